import { mkdir, readFile, stat, writeFile, chmod, utimes } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { run } from "../src/exec/index.js";
import { createWorld, leftovers } from "./fixtures/cli.js";
import { createTestRepo } from "./fixtures/restic.js";

interface JsonEvent {
  type: string;
  [k: string]: unknown;
}

function events(stdout: string): JsonEvent[] {
  return stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as JsonEvent);
}

describe("backup end to end (real btrfs, real restic)", () => {
  test("records the original source paths, and the second run is incremental", async () => {
    await using w = await createWorld();
    const sub = join(w.data, "docs");
    await mkdir(sub);
    for (let i = 0; i < 20; i++) await writeFile(join(sub, `f${i}.txt`), `file ${i}\n`.repeat(100));
    await writeFile(join(w.data, "top.txt"), "top\n");
    await w.writeConfig(w.basicConfig([w.data, sub].slice(0, 1)));

    const first = await w.cli(["--json", "backup"]);
    expect(first.stderr).not.toMatch(/error/);
    expect(first.exitCode).toBe(0);
    const s1 = events(first.stdout).find((e) => e.type === "summary");
    expect(s1?.["files_new"]).toBe(21);

    const snaps = await w.repo.snapshots();
    expect(snaps).toHaveLength(1);
    expect(snaps[0]?.paths).toEqual([w.data]);
    expect(snaps[0]?.tags).toContain("plan:p");

    const second = await w.cli(["--json", "backup", "p"]);
    expect(second.exitCode).toBe(0);
    const s2 = events(second.stdout).find((e) => e.type === "summary");
    expect(s2).toMatchObject({ files_new: 0, files_changed: 0, files_unmodified: 21 });
    expect(s2?.["data_blobs"]).toBe(0);
    const result = events(second.stdout).find((e) => e.type === "result");
    expect(result).toMatchObject({ status: "success", plan: "p" });
    expect(await leftovers(w)).toEqual([]);
  });

  test("a source inside a subvolume and nested subvolumes are backed up as on the live fs", async () => {
    await using w = await createWorld();
    const home = join(w.data, "home");
    await mkdir(home);
    await writeFile(join(home, "a.txt"), "a\n");
    const nested = join(home, "nested");
    await run("btrfs", ["subvolume", "create", nested]);
    await writeFile(join(nested, "inner.txt"), "inner\n");
    const deeper = join(nested, "deeper");
    await run("btrfs", ["subvolume", "create", deeper]);
    await writeFile(join(deeper, "deep.txt"), "deep\n");
    await w.writeConfig(w.basicConfig([home]));

    const r = await w.cli(["--json", "backup"]);
    expect(r.exitCode).toBe(0);
    const result = events(r.stdout).find((e) => e.type === "result");
    expect(result?.["nested"]).toEqual(expect.arrayContaining([nested, deeper]));
    const ls = await w.repo.restic(["ls", "latest"]);
    expect(ls).toContain(join(nested, "inner.txt"));
    expect(ls).toContain(join(deeper, "deep.txt"));
    expect((await w.repo.snapshots())[0]?.paths).toEqual([home]);
    expect(await leftovers(w)).toEqual([]);
  });

  test("restore into an empty dir equals the source at snapshot time; a non-empty one is refused", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "keep.txt"), "original\n");
    await chmod(join(w.data, "keep.txt"), 0o640);
    await utimes(
      join(w.data, "keep.txt"),
      new Date("2020-01-02T03:04:05Z"),
      new Date("2020-01-02T03:04:05Z"),
    );
    await w.writeConfig(w.basicConfig([w.data]));
    expect((await w.cli(["backup"])).exitCode).toBe(0);
    await writeFile(join(w.data, "keep.txt"), "changed after the backup\n");

    const target = join(w.dir, "restore");
    const r = await w.cli(["restore", "p", "--target", target]);
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    const restored = join(target, w.data, "keep.txt");
    expect(await readFile(restored, "utf8")).toBe("original\n");
    const st = await stat(restored);
    expect(st.mode & 0o777).toBe(0o640);
    expect(st.mtime.toISOString()).toBe("2020-01-02T03:04:05.000Z");

    await writeFile(restored, "local edit\n");
    const refused = await w.cli(["restore", "p", "--target", target]);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/--overwrite/);
    expect(await readFile(restored, "utf8")).toBe("local edit\n");

    const forced = await w.cli(["restore", "p", "--target", target, "--overwrite"]);
    expect(forced.exitCode).toBe(0);
    expect(await readFile(restored, "utf8")).toBe("original\n");
  });

  test("one plan with two repositories backs up the same snapshot view to each", async () => {
    await using w = await createWorld();
    await using second = await createTestRepo();
    for (let i = 0; i < 5; i++) await writeFile(join(w.data, `f${i}`), `${i}\n`);
    const config = w
      .basicConfig([w.data])
      .replace('repositories = ["r"]', 'repositories = ["r", "r2"]')
      .concat(
        `\n[repositories.r2]\nengine = "restic"\nurl = "${second.url}"\npassword_file = "${second.passwordFile}"\n`,
      );
    await w.writeConfig(config);
    const r = await w.cli(["--json", "backup"]);
    expect(r.exitCode).toBe(0);
    const summaries = events(r.stdout).filter((e) => e.type === "summary");
    expect(summaries.map((e) => e["repository"])).toEqual(["r", "r2"]);
    expect(events(r.stdout).filter((e) => e.type === "snapshots")).toHaveLength(1);
    const lsFirst = await w.repo.restic(["ls", "--long", "latest"]);
    const lsSecond = await second.restic(["ls", "--long", "latest"]);
    const inData = (ls: string): string[] =>
      ls.split("\n").filter((l) => l.includes(w.data) && !l.startsWith("snapshot "));
    expect(inData(lsSecond)).toEqual(inData(lsFirst));
    expect(inData(lsFirst).length).toBe(6);
    expect(await leftovers(w)).toEqual([]);
  });
});
