import { existsSync } from "node:fs";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createLoopBtrfs } from "../../../test/fixtures/btrfs.js";
import { run } from "../../exec/index.js";
import { createSnapshotDir, removeSnapshotDirIfEmpty, snapshotInto } from "./snapshot-dir.js";

describe("the default snapshot directory", () => {
  it("is removed only when it is an empty .snapback at a subvolume root", async () => {
    await using fs = await createLoopBtrfs();
    const data = await fs.subvolume("data");
    const dir = join(data, ".snapback");

    await createSnapshotDir(dir);
    await writeFile(join(dir, "something"), "held");
    await removeSnapshotDirIfEmpty(dir);
    expect(await readdir(dir)).toEqual(["something"]);

    // Below a plain directory it is not where snapback puts snapshots by default.
    const deeper = join(data, "sub", ".snapback");
    await mkdir(deeper, { recursive: true });
    await removeSnapshotDirIfEmpty(deeper);
    expect(existsSync(deeper)).toBe(true);

    // A user's snapshot_dir of another name stays, empty or not.
    const mine = join(fs.mountpoint, "snaps");
    await mkdir(mine);
    await removeSnapshotDirIfEmpty(mine);
    expect(existsSync(mine)).toBe(true);

    // A subvolume named .snapback is not a directory rmdir should take (it could).
    const other = await fs.subvolume("other");
    await run("btrfs", ["subvolume", "create", join(other, ".snapback")]);
    await removeSnapshotDirIfEmpty(join(other, ".snapback"));
    expect(existsSync(join(other, ".snapback"))).toBe(true);
    await run("btrfs", ["subvolume", "delete", join(other, ".snapback")]);

    await run("rm", [join(dir, "something")]);
    await removeSnapshotDirIfEmpty(dir);
    expect(existsSync(dir)).toBe(false);
    // Gone already is fine.
    await removeSnapshotDirIfEmpty(dir);
  });

  it("a snapshot whose directory another run removed after the mkdir is retried once", async () => {
    await using fs = await createLoopBtrfs();
    const data = await fs.subvolume("data");
    const dir = join(data, ".snapback");
    const snap = join(dir, "snapback@p@r1@1");
    await createSnapshotDir(dir);
    const attempts: string[] = [];
    await snapshotInto(dir, async () => {
      if (attempts.length === 0) {
        // Another plan's run on the same subvolume finishes right now: its rmdir wins.
        await removeSnapshotDirIfEmpty(dir);
        expect(existsSync(dir)).toBe(false);
      }
      attempts.push(snap);
      await run("btrfs", ["subvolume", "snapshot", "-r", data, snap]);
    });
    expect(attempts).toHaveLength(2);
    expect(await readdir(dir)).toEqual(["snapback@p@r1@1"]);
    // Holding a snapshot, the directory cannot be removed from under it.
    await removeSnapshotDirIfEmpty(dir);
    expect(existsSync(snap)).toBe(true);
    await run("btrfs", ["subvolume", "delete", snap]);
    await removeSnapshotDirIfEmpty(dir);
    expect(existsSync(dir)).toBe(false);
  });

  it("a failure with the directory still there is not retried", async () => {
    await using fs = await createLoopBtrfs();
    const data = await fs.subvolume("data");
    const dir = join(data, ".snapback");
    await createSnapshotDir(dir);
    let attempts = 0;
    const e = await snapshotInto(dir, () => {
      attempts++;
      return run("btrfs", ["subvolume", "snapshot", "-r", join(data, "missing"), join(dir, "x")]);
    }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(Error);
    expect(attempts).toBe(1);
  });
});
