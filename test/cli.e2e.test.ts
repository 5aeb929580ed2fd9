import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { run } from "../src/exec/index.js";
import { createWorld, leftovers, snapback } from "./fixtures/cli.js";
import { ensureZfsDaemon } from "./fixtures/zfs.js";

describe("CLI commands end to end", () => {
  test("--dry-run prints snapshots, mounts and engine commands and touches nothing", async () => {
    await using w = await createWorld();
    const nested = join(w.data, "nested");
    await run("btrfs", ["subvolume", "create", nested]);
    await w.writeConfig(w.basicConfig([w.data]));
    const before = (await run("btrfs", ["subvolume", "list", w.fs.mountpoint])).stdout;
    const r = await w.cli(["backup", "--dry-run"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`btrfs subvolume snapshot -r ${w.data}`);
    expect(r.stdout).toContain(`nested: ${nested}`);
    expect(r.stdout).toMatch(/run: \[r\] RESTIC_REPOSITORY=.* restic backup --json/);
    expect(r.stdout).not.toContain("correct horse");
    expect((await run("btrfs", ["subvolume", "list", w.fs.mountpoint])).stdout).toBe(before);
    expect(await readdir(w.dir)).not.toContain("state");
    const json = await w.cli(["--json", "backup", "--dry-run"]);
    expect(JSON.parse(json.stdout.trim())).toMatchObject({ type: "dry_run", plan: "p" });
  });

  test("snapshots --json has the contract's fields", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x");
    await w.writeConfig(w.basicConfig([w.data], 'tags = ["nightly"]'));
    expect((await w.cli(["backup"])).exitCode).toBe(0);
    const r = await w.cli(["--json", "snapshots"]);
    expect(r.exitCode).toBe(0);
    const list = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(list).toHaveLength(1);
    const s = list[0] ?? {};
    expect(s["id"]).toMatch(/^[0-9a-f]{64}$/);
    expect(s["short_id"]).toBe((s["id"] as string).slice(0, 8));
    expect(new Date(s["time"] as string).toISOString()).toBe(s["time"]);
    expect(s).toMatchObject({ plan: "p", repository: "r", paths: [w.data] });
    expect(s["tags"]).toEqual(expect.arrayContaining(["nightly", "plan:p"]));
  });

  test("state_dir and the restic cache inside a source: the backup works and excludes them", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x");
    const state = join(w.data, "var", "snapback");
    await w.writeConfig(
      w.basicConfig([w.data]).replace(`state_dir = "${w.stateDir}"`, `state_dir = "${state}"`),
    );
    const r = await w.cli(["--json", "backup"]);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.exitCode).toBe(0);
    // restic wrote its cache inside the read-only view, through the live writable mount.
    expect((await readdir(join(state, "cache", "restic"))).length).toBeGreaterThan(0);
    const ls = await w.repo.restic(["ls", "latest"]);
    expect(ls).toContain(join(w.data, "f"));
    expect(ls).not.toContain(state);
    expect(ls).not.toContain(".snapback");
    expect(await leftovers(w)).toEqual([]);
  });

  test("config validate and config show (secrets redacted)", async () => {
    await using w = await createWorld();
    await w.writeConfig(
      `${w.basicConfig([w.data])}\n[repositories.s3]\nengine = "restic"\nurl = "s3:https://s3.example.com/bucket"\npassword_file = "${w.repo.passwordFile}"\nenv = { AWS_SECRET_ACCESS_KEY = "very-secret-key-123" }\n`,
    );
    const v = await w.cli(["config", "validate"]);
    expect(v.exitCode).toBe(0);
    expect(v.stdout).toContain("valid (1 plan, 2 repositories)");
    const s = await w.cli(["config", "show"]);
    expect(s.exitCode).toBe(0);
    expect(s.stdout).not.toContain("very-secret-key-123");
    expect(s.stdout).toContain("AWS_SECRET_ACCESS_KEY");
    expect(s.stdout).toContain(w.repo.passwordFile);
    const bad = await snapback(["--config", join(w.dir, "nope.toml"), "config", "validate"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("does not exist");
  });

  test("doctor reports restic, btrfs and ZFS capabilities", async () => {
    // zfs-fuse is a daemon: up only if a ZFS test ran first, so this test starts it itself.
    await ensureZfsDaemon();
    const r = await snapback(["--json", "doctor"]);
    const doc = JSON.parse(r.stdout) as {
      ok: boolean;
      checks: { name: string; ok: boolean; detail: string }[];
    };
    expect(doc.checks.find((c) => c.name === "restic")?.detail).toMatch(/0\.\d+\.\d+/);
    expect(doc.checks.find((c) => c.name === "btrfs-progs")?.ok).toBe(true);
    expect(doc.checks.find((c) => c.name === "zfs")?.detail).toMatch(/multiNameSnapshot=/);
    expect(doc.ok).toBe(true);
    expect(r.exitCode).toBe(0);
  });

  test("usage errors: unknown command, unknown option, unknown plan → exit 2, no stack trace", async () => {
    await using w = await createWorld();
    await w.writeConfig(w.basicConfig([w.data]));
    for (const args of [
      ["frobnicate"],
      ["backup", "--frob"],
      ["backup", "nope"],
      ["restore", "p"],
    ]) {
      const r = await w.cli(args);
      expect(r.exitCode, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/^error: /m);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  test("snapback demo runs end to end and leaves nothing behind", async () => {
    const demoLoops = async (): Promise<string[]> =>
      (await run("losetup", ["-a"])).stdout.split("\n").filter((l) => l.includes("snapback-demo-"));
    const r = await snapback(["demo"]);
    expect(r.stderr).not.toMatch(/^error/m);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/0 new, 0 changed, \d+ unmodified/);
    expect(r.stdout).toMatch(/\+2\. done: snapback runs nightly/);
    expect(r.stdout).toContain("nothing left behind");
    expect(await demoLoops()).toEqual([]);
    expect((await run("findmnt", ["-rn", "-o", "TARGET"])).stdout).not.toContain("snapback-demo");
    const tmp = await readdir("/tmp");
    expect(tmp.filter((d) => d.startsWith("snapback-demo-"))).toEqual([]);
  });
});
