import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { run, type RunResult } from "../src/exec/index.js";
import { FileLock, lockDir } from "../src/core/lock.js";
import { createWorld } from "./fixtures/cli.js";

/**
 * What the CLI prints (issue 9): --json problems as JSON on stdout with the human line on
 * stderr, one message per failure, `snapshots` kinds and columns, nested restore points, and
 * the config refusals that name a key.
 */

interface JsonDoc {
  type?: string;
  [k: string]: unknown;
}

function docs(stdout: string): JsonDoc[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{") || l.startsWith("["))
    .map((l) => JSON.parse(l) as JsonDoc);
}

const errorLines = (r: RunResult): string[] =>
  r.stderr.split("\n").filter((l) => l.startsWith("error: "));

describe("--json: problems are JSON too", () => {
  test("a run refused by the plan lock (exit 4) prints no start, one JSON error and one human line", async () => {
    await using w = await createWorld();
    await w.writeConfig(w.basicConfig([w.data]));
    // This test process holds the plan's lock, as a running backup would.
    await using held = await FileLock.acquire(lockDir(w.stateDir), "plan-p", 'plan "p"', {
      plan: "p",
    });
    void held;
    const r = await w.cli(["--json", "backup"]);
    expect(r.exitCode).toBe(4);
    const out = docs(r.stdout);
    expect(out.map((d) => d.type)).toEqual(["error"]);
    expect(out[0]).toMatchObject({ type: "error", exit_code: 4 });
    expect(String(out[0]?.["message"])).toMatch(/plan "p"/);
    expect(errorLines(r)).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);

    const text = await w.cli(["backup"]);
    expect(text.exitCode).toBe(4);
    expect(text.stderr).not.toMatch(/^backup p:/m);
    expect(errorLines(text)).toHaveLength(1);
  });

  test("a warning of a run is an event on stdout and a line on stderr", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x");
    await w.writeConfig(
      w.basicConfig(
        [w.data],
        [
          "[[plans.p.hooks]]",
          'when = "finally"',
          'name = "complain"',
          'run = ["false"]',
          'on_error = "continue"',
        ].join("\n"),
      ),
    );
    const r = await w.cli(["--json", "backup"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const warnings = docs(r.stdout).filter((d) => d.type === "warning");
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]?.["message"])).toMatch(/complain/);
    expect(r.stderr).toMatch(/^warning: .*complain/m);
  });

  test("snapshots with a wrong password: its error once, exit 2; with --json an error document", async () => {
    await using w = await createWorld();
    await w.writeConfig(w.basicConfig([w.data]));
    await writeFile(w.repo.passwordFile, "not the password\n");
    const r = await w.cli(["snapshots"]);
    expect(r.exitCode).toBe(2);
    expect(errorLines(r)).toEqual([expect.stringMatching(/repository "r": wrong password/)]);
    const json = await w.cli(["--json", "snapshots"]);
    expect(json.exitCode).toBe(2);
    expect(docs(json.stdout)).toEqual([
      expect.objectContaining({ type: "error", exit_code: 2 }) as unknown,
    ]);
    expect(errorLines(json)).toHaveLength(1);
  });
});

describe("snapshots: kinds, columns, dumps", () => {
  test("a dump is marked as a database, columns align, and restoring its id as files says --database", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x");
    const db = join(w.dir, "app.db");
    await run("sqlite3", [db, "create table t(x); insert into t values (1);"]);
    await w.writeConfig(
      w.basicConfig(
        [w.data],
        ["[[plans.p.databases]]", 'type = "sqlite"', 'name = "app"', `path = "${db}"`].join("\n"),
      ),
    );
    expect((await w.cli(["backup"])).exitCode).toBe(0);

    const json = await w.cli(["--json", "snapshots"]);
    expect(json.exitCode, json.stderr).toBe(0);
    const list = JSON.parse(json.stdout) as JsonDoc[];
    expect(list.map((s) => s["kind"]).sort()).toEqual(["database", "files"]);
    const dump = list.find((s) => s["kind"] === "database");
    expect(dump).toMatchObject({ database: "app", plan: "p", repository: "r" });
    expect(list.find((s) => s["kind"] === "files")).not.toHaveProperty("database");

    const text = await w.cli(["snapshots"]);
    const [header, ...rows] = text.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^ID\s+Time\s+Plan\s+Repository\s+Kind\s+Host\s+Paths$/);
    expect(rows).toHaveLength(2);
    expect(text.stdout).toContain("database app");
    // Aligned: every column starts where its header does.
    for (const col of ["Time", "Plan", "Repository", "Kind", "Host", "Paths"]) {
      const at = header?.indexOf(col) ?? -1;
      for (const row of rows) expect(row[at - 1], `${col} in ${row}`).toBe(" ");
      for (const row of rows) expect(row[at], `${col} in ${row}`).not.toBe(" ");
    }

    const target = join(w.dir, "out");
    const r = await w.cli([
      "restore",
      "p",
      "--snapshot",
      String(dump?.["short_id"]),
      "--target",
      target,
    ]);
    expect(r.exitCode).toBe(2);
    expect(errorLines(r)).toEqual([
      expect.stringMatching(/is a dump of database "app" of plan "p".*--database app/),
    ]);
    expect(r.stderr).toMatch(/hint: snapback restore p --database app/);
  });
});

describe("snapshots --local: nested restore points", () => {
  test("a nested subvolume's restore point is listed with its parent and its original path", async () => {
    await using w = await createWorld();
    const nested = join(w.data, "alice");
    await run("btrfs", ["subvolume", "create", nested]);
    await writeFile(join(nested, "f"), "alice's");
    await w.writeConfig(w.basicConfig([w.data], "[plans.p.retention]\nlocal_snapshots = 1"));
    const b = await w.cli(["backup"]);
    expect(b.exitCode, b.stderr).toBe(0);

    const r = await w.cli(["--json", "snapshots", "--local"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as JsonDoc[];
    const parent = rows.find((x) => x["source"] === w.data);
    const child = rows.find((x) => x["source"] === nested);
    expect(parent).toMatchObject({ parent: null });
    expect(String(parent?.["name"])).toMatch(/^snapback@p@.+@1$/);
    expect(child).toMatchObject({ parent: parent?.["name"] });
    expect(String(child?.["name"])).toBe(`${String(parent?.["name"])}.1`);
    // The data of the nested subvolume is where the row says.
    expect(await run("cat", [join(String(child?.["path"]), "f")])).toMatchObject({
      stdout: "alice's",
    });

    const text = await w.cli(["snapshots", "--local"]);
    expect(text.stdout.split("\n")[0]).toMatch(/^Time\s+Plan\s+Source\s+Name\s+Parent\s+Path$/);
    expect(text.stdout).toMatch(
      new RegExp(`${nested}\\s+${String(child?.["name"])}\\s+${String(parent?.["name"])}`),
    );
  });
});

describe("config refusals name the key", () => {
  test("a NUL in schedule: exit 2 naming the key, no crash of a spawn", async () => {
    await using w = await createWorld();
    await w.writeConfig(w.basicConfig([w.data], 'schedule = "\\u0000"'));
    const r = await w.cli(["config", "validate"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/plans\.p\.schedule: must not contain a NUL/);
    expect(r.stderr).not.toMatch(/exited with code|\n\s+at /);
  });

  test("credentials in a repository URL in a world-readable config: exit 2 naming the key, never the value", async () => {
    await using w = await createWorld();
    const secret = "S3cretPW-in-url";
    await w.writeConfig(
      w
        .basicConfig([w.data])
        .replace(`url = "${w.repo.url}"`, `url = "rest:https://backup:${secret}@127.0.0.1:9/"`),
    );
    await chmod(w.configPath, 0o644);
    for (const args of [["config", "validate"], ["backup"], ["--json", "config", "show"]]) {
      const r = await w.cli(args);
      expect(r.exitCode, args.join(" ")).toBe(2);
      expect(r.stderr).toContain("repositories.r.url");
      expect(r.stdout + r.stderr).not.toContain(secret);
    }
  });
});
