import { mkdir, mkdtemp, rm, symlink, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createLoopBtrfs } from "../../test/fixtures/btrfs.js";
import { UsageError } from "../errors.js";
import { run } from "../exec/index.js";
import { detectSources, kindOfFstype, listMounts, mountOf, parseMountinfo } from "./detect.js";

/** A filesystem of the given type on its own mount (tmpfs, or ext4 on a loop device). */
async function scratchMount(
  type: "tmpfs" | "ext4",
): Promise<AsyncDisposable & { mountpoint: string }> {
  const dir = await mkdtemp(join(tmpdir(), `snapback-test-${type}-`));
  const mountpoint = join(dir, "mnt");
  await mkdir(mountpoint);
  let device: string | undefined;
  try {
    if (type === "tmpfs") {
      await run("mount", ["-t", "tmpfs", "-o", "size=16m", "snapback-test", mountpoint]);
    } else {
      const image = join(dir, "fs.img");
      await writeFile(image, "");
      await truncate(image, 32 * 1024 * 1024);
      device = (await run("losetup", ["--find", "--show", image])).stdout.trim();
      await run("mkfs.ext4", ["-q", device]);
      await run("mount", [device, mountpoint]);
    }
  } catch (e) {
    if (device) await run("losetup", ["-d", device], { reject: false });
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    mountpoint,
    async [Symbol.asyncDispose]() {
      await run("umount", [mountpoint], { reject: false });
      if (device) await run("losetup", ["-d", device], { reject: false });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe("detectSources", () => {
  it("tells btrfs, tmpfs and ext4 sources apart and normalises paths", async () => {
    await using fs = await createLoopBtrfs();
    await using tmp = await scratchMount("tmpfs");
    await using ext = await scratchMount("ext4");
    const home = await fs.subvolume("home");
    await mkdir(join(home, "alice"));
    await writeFile(join(tmp.mountpoint, "file"), "x");

    const found = await detectSources(
      "p",
      [`${home}/alice/`, join(tmp.mountpoint, "file"), ext.mountpoint],
      "auto",
    );

    expect(found.map((s) => [s.path, s.kind, s.mount.fstype])).toEqual([
      [join(home, "alice"), "btrfs", "btrfs"],
      [join(tmp.mountpoint, "file"), "none", "tmpfs"],
      [ext.mountpoint, "none", "ext4"],
    ]);
    expect(found[0]?.mount.target).toBe(fs.mountpoint);
    expect(found[0]?.mount.source).toBe(fs.device);
    expect(found[0]?.mount.fsroot).toBe("/");
    expect(found[2]?.mount.target).toBe(ext.mountpoint);
  });

  it("reports the subvolume a subvol= mount shows and strips it from the device", async () => {
    await using fs = await createLoopBtrfs();
    await fs.subvolume("@data");
    const dir = await mkdtemp(join(tmpdir(), "snapback-test-subvolmnt-"));
    try {
      await run("mount", ["-o", "subvol=/@data", fs.device, dir]);
      try {
        const [s] = await detectSources("p", [dir], "btrfs");
        expect(s).toMatchObject({
          path: dir,
          kind: "btrfs",
          mount: { target: dir, source: fs.device, fsroot: "/@data" },
        });
      } finally {
        await run("umount", [dir]);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("finds the mount through a symlink but keeps the path as written", async () => {
    await using fs = await createLoopBtrfs();
    const dir = await mkdtemp(join(tmpdir(), "snapback-test-link-"));
    try {
      await symlink(fs.mountpoint, join(dir, "link"));
      const [s] = await detectSources("p", [join(dir, "link")], "auto");
      expect(s).toMatchObject({
        path: join(dir, "link"),
        kind: "btrfs",
        mount: { target: fs.mountpoint },
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("forces none on btrfs", async () => {
    await using fs = await createLoopBtrfs();
    const [s] = await detectSources("p", [fs.mountpoint], "none");
    expect(s?.kind).toBe("none");
    expect(s?.mount.fstype).toBe("btrfs");
  });

  it("refuses a missing source, naming the plan key and the path", async () => {
    const missing = join(tmpdir(), "snapback-test-no-such-dir", "x");
    const e = await detectSources("home", ["/", missing], "auto").catch((err: unknown) => err);
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).message).toBe(`plans.home.sources: ${missing} does not exist`);
    expect((e as UsageError).exitCode).toBe(2);
  });

  it("refuses snapshot = btrfs for a source on tmpfs, naming the source and its fstype", async () => {
    await using tmp = await scratchMount("tmpfs");
    const e = await detectSources("home", [tmp.mountpoint], "btrfs").catch((err: unknown) => err);
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).message).toContain(
      `plans.home.sources: ${tmp.mountpoint} is on tmpfs`,
    );
    expect((e as UsageError).message).toContain("not btrfs");
  });

  it("refuses snapshot = zfs for a source on btrfs", async () => {
    await using fs = await createLoopBtrfs();
    await expect(detectSources("p", [fs.mountpoint], "zfs")).rejects.toThrow(
      /is on btrfs .* not zfs/,
    );
  });
});

describe("mount lookup", () => {
  const m = (target: string, fstype = "ext4") => ({
    target,
    source: "dev",
    fstype,
    options: "",
    fsroot: "/",
  });

  it("picks the deepest mount and, of stacked ones, the last", () => {
    const mounts = [m("/"), m("/home", "btrfs"), m("/homes"), m("/home", "tmpfs")];
    expect(mountOf("/home/a", mounts)?.fstype).toBe("tmpfs");
    expect(mountOf("/homes/a", mounts)?.target).toBe("/homes");
    expect(mountOf("/srv", mounts)?.target).toBe("/");
  });

  it("maps fstypes to kinds", () => {
    expect(["btrfs", "zfs", "fuse.zfs", "ext4", "fuse"].map(kindOfFstype)).toEqual([
      "btrfs",
      "zfs",
      "zfs",
      "none",
      "none",
    ]);
  });
});

describe("listMounts (from /proc/self/mountinfo, no process)", () => {
  it("parses mountinfo lines, escapes and optional fields included", () => {
    const text = [
      "36 35 98:0 /data /srv/my\\040data rw,noatime shared:1 master:2 - btrfs /dev/loop3 rw,subvol=/data",
      "37 35 0:40 / /tmp rw - tmpfs tmpfs rw,size=1024k",
      "garbage",
    ].join("\n");
    expect(parseMountinfo(text)).toEqual([
      {
        target: "/srv/my data",
        source: "/dev/loop3",
        fstype: "btrfs",
        options: "rw,noatime,rw,subvol=/data",
        fsroot: "/data",
      },
      {
        target: "/tmp",
        source: "tmpfs",
        fstype: "tmpfs",
        options: "rw,rw,size=1024k",
        fsroot: "/",
      },
    ]);
  });

  it("agrees with findmnt on this machine, a btrfs subvolume mount included", async () => {
    await using fs = await createLoopBtrfs(256);
    const sub = await fs.subvolume("sv");
    const where = join(fs.mountpoint, "..", "svmount");
    await mkdir(where, { recursive: true });
    await run("mount", ["-o", "subvol=/sv", fs.device, where]);
    try {
      const r = await run("findmnt", ["-J", "-l", "-o", "TARGET,FSTYPE,FSROOT"]);
      const expected = (
        JSON.parse(r.stdout) as {
          filesystems: { target: string; fstype: string; fsroot: string }[];
        }
      ).filesystems.map((m) => ({ target: m.target, fstype: m.fstype, fsroot: m.fsroot }));
      const ours = (await listMounts()).map((m) => ({
        target: m.target,
        fstype: m.fstype,
        fsroot: m.fsroot,
      }));
      expect(ours).toEqual(expected);
      const mine = (await listMounts()).find((m) => m.target === where);
      expect(mine).toMatchObject({ source: fs.device, fstype: "btrfs", fsroot: "/sv" });
      expect(sub).toBe(join(fs.mountpoint, "sv"));
    } finally {
      await run("umount", [where]);
    }
  });
});
