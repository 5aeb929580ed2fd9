import { access } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "../../exec/index.js";
import { createZfsPool } from "../../../test/fixtures/zfs.js";
import { resetZfsCapabilities, zfsCapabilities } from "./capabilities.js";

describe("zfsCapabilities on the installed zfs-fuse", () => {
  it("detects zfs-fuse's limits, and each detected limit is real", async () => {
    await using pool = await createZfsPool();
    const a = await pool.dataset("a");
    const b = await pool.dataset("b");
    resetZfsCapabilities();
    const caps = await zfsCapabilities();

    expect(caps).toMatchObject({
      available: true,
      implementation: "zfs-fuse",
      multiNameSnapshot: false,
      listParsable: false,
      snapshotDir: false,
      snapshotMount: false,
      clones: true,
      mountFstypes: ["fuse.zfs"],
    });
    expect(await zfsCapabilities()).toBe(caps);

    // The detection is only worth something if the machine agrees with it.
    const multi = await run("zfs", ["snapshot", `${a.name}@x`, `${b.name}@x`], { reject: false });
    expect(multi.exitCode).not.toBe(0);
    expect(await pool.zfs("list", "-H", "-t", "snapshot", "-o", "name", "-r", pool.pool)).toBe("");
    expect((await run("zfs", ["list", "-p"], { reject: false })).exitCode).not.toBe(0);
    await expect(access(join(a.mountpoint, ".zfs"))).rejects.toThrow();
    const fstype = (
      await run("findmnt", ["-n", "-o", "FSTYPE", "--mountpoint", a.mountpoint])
    ).stdout.trim();
    expect(fstype).toBe("fuse.zfs");
  });
});
