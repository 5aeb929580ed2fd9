import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { createWorld, jsonEvents, leftovers } from "./fixtures/cli.js";

/** Issue 11: a run leaves no trace in the user's tree. */
describe("the snapshot directory", () => {
  test("a run without restore points leaves no .snapback; one holding a user's file stays", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x");
    await w.writeConfig(w.basicConfig([w.data]));
    const snapDir = join(w.data, ".snapback");

    const r = await w.cli(["--json", "backup"]);
    expect(r.exitCode, r.stderr).toBe(0);
    // The run did snapshot into it (the backup went through the snapshot), and removed it after.
    const taken = jsonEvents(r.stdout).find((e) => e.type === "snapshots");
    expect(JSON.stringify(taken)).toContain(`${snapDir}/snapback@p@`);
    expect(existsSync(snapDir)).toBe(false);
    expect(await leftovers(w)).toEqual([]);

    // Something that is not snapback's keeps the directory (rmdir refuses a non-empty one).
    await mkdir(snapDir, { mode: 0o700 });
    await writeFile(join(snapDir, "user-note"), "mine");
    const again = await w.cli(["backup"]);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(await readdir(snapDir)).toEqual(["user-note"]);
  });

  test("a user's snapshot_dir stays, empty, after the run", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x");
    const mine = join(w.fs.mountpoint, "snaps");
    await w.writeConfig(w.basicConfig([w.data], `snapshot_dir = "${mine}"`));
    const r = await w.cli(["--json", "backup"]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.stringify(jsonEvents(r.stdout))).toContain(`${mine}/snapback@p@`);
    expect(await readdir(mine)).toEqual([]);
    expect(existsSync(join(w.data, ".snapback"))).toBe(false);
    expect(await leftovers(w)).toEqual([]);
  });

  test("a run that fails after its snapshot removes it too", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x");
    const snapDir = join(w.data, ".snapback");
    const seen = join(w.dir, "seen");
    // The after_snapshot hook sees the snapshot in the directory, then fails the run.
    const hook = `ls ${snapDir} > ${seen}; exit 3`;
    await w.writeConfig(
      w.basicConfig([w.data], `[[plans.p.hooks]]\nwhen = "after_snapshot"\nshell = "${hook}"`),
    );
    const r = await w.cli(["backup"]);
    expect(r.exitCode).toBe(1);
    expect(await readFile(seen, "utf8")).toMatch(/^snapback@p@\S+@1\n$/);
    expect(existsSync(snapDir)).toBe(false);
    expect(await w.repo.snapshots()).toEqual([]);
    expect(await leftovers(w)).toEqual([]);
  });
});
