import { describe, expect, it } from "vitest";
import { detectCapabilities, type ZfsCapabilities, type ZfsProbe } from "./capabilities.js";
import {
  cloneName,
  commonAncestor,
  exposeCommands,
  exposeMethod,
  listObjectsCommand,
  snapshotCommand,
  snapshotName,
  viewDir,
  VIEW_ROOT,
} from "./commands.js";
import { selectedFor } from "./discover.js";
import { orderBinds } from "./plan.js";

// The usage lines that matter, as zfs-fuse 0.7 and OpenZFS 2.x print them.
const FUSE_USAGE = [
  "missing command",
  "usage: zfs command args ...",
  "\tcreate [-p] [-o property=value] ... <filesystem>",
  "\tsnapshot [-r] [-o property=value] ... <filesystem@snapname|volume@snapname>",
  "\tclone [-p] [-o property=value] ... <snapshot> <filesystem|volume>",
  "\tlist [-rH][-d max] [-o property[,...]] [-t type[,...]] [-s property] ...",
  "\t    [-S property] ... [filesystem|volume|snapshot] ...",
  '\tget [-rHp] [-d max] [-o "all" | field[,...]] [-s source[,...]]',
].join("\n");

const OPENZFS_USAGE = [
  "usage: zfs command args ...",
  "\tversion",
  "\tcreate [-Pnpv] [-o property=value] ... <filesystem>",
  "\tsnapshot [-r] [-o property=value] ... <filesystem|volume>@<snap> ...",
  "\tclone [-p] [-o property=value] ... <snapshot> <filesystem|volume>",
  "\tlist [-Hp] [-r|-d max] [-o property[,...]] [-s property]...",
  "\t    [-S property]... [-t type[,...]] [filesystem|volume|snapshot] ...",
].join("\n");

const fuseProbe: ZfsProbe = {
  listOk: true,
  usage: FUSE_USAGE,
  procFilesystems: "nodev\tsysfs\nnodev\tfuse\n\text4\nnodev\tfusectl\n",
  fuseSocket: true,
  mountedFstypes: ["fuse.zfs", "fuse.zfs"],
  snapshotDirSeen: false,
};

const openzfsProbe: ZfsProbe = {
  listOk: true,
  usage: OPENZFS_USAGE,
  versionOutput: "zfs-2.1.11-1\nzfs-kmod-2.1.11-1\n",
  procFilesystems: "nodev\tsysfs\n\text4\nnodev\tzfs\n",
  fuseSocket: false,
  mountedFstypes: ["zfs"],
  snapshotDirSeen: true,
};

describe("capability detection", () => {
  it("reads zfs-fuse: one name per snapshot, no list -p, no .zfs, no snapshot mounts, clones", () => {
    expect(detectCapabilities(fuseProbe)).toEqual({
      available: true,
      implementation: "zfs-fuse",
      multiNameSnapshot: false,
      listParsable: false,
      snapshotDir: false,
      snapshotMount: false,
      clones: true,
      mountFstypes: ["fuse.zfs"],
    });
  });

  it("reads OpenZFS: several names per snapshot, list -p, .zfs, mount -t zfs", () => {
    expect(detectCapabilities(openzfsProbe)).toEqual({
      available: true,
      implementation: "openzfs",
      version: "zfs-2.1.11-1",
      multiNameSnapshot: true,
      listParsable: true,
      snapshotDir: true,
      snapshotMount: true,
      clones: true,
      mountFstypes: ["zfs"],
    });
  });

  it("recognises OpenZFS without `zfs version` (0.7) by its kernel filesystem", () => {
    const { versionOutput: _v, ...old } = openzfsProbe;
    const caps = detectCapabilities({ ...old, mountedFstypes: [] });
    expect(caps.implementation).toBe("openzfs");
    expect(caps.snapshotMount).toBe(true);
    expect(caps.mountFstypes).toEqual(["zfs"]);
  });

  it("reports an unreachable zfs-fuse daemon as unavailable, with the reason", () => {
    const caps = detectCapabilities({
      ...fuseProbe,
      listOk: false,
      listError:
        "connect: No such file or directory\nPlease make sure that the zfs-fuse daemon is running.\n",
      mountedFstypes: [],
    });
    expect(caps.available).toBe(false);
    expect(caps.reason).toMatch(/zfs-fuse daemon is running/);
    expect(caps.mountFstypes).toEqual(["fuse.zfs"]);
  });
});

const fuse = detectCapabilities(fuseProbe);
const openzfs = detectCapabilities(openzfsProbe);
const props = { "snapback:run": "R1", "snapback:plan": "home" };

describe("snapshot command construction", () => {
  it("OpenZFS: one `zfs snapshot` naming every dataset, nothing extra", () => {
    const c = snapshotCommand(openzfs, ["tank/a", "tank/b/c"], "snap", props);
    expect(c.method).toBe("multi");
    expect(c.command).toEqual({
      file: "zfs",
      args: [
        "snapshot",
        "-o",
        "snapback:run=R1",
        "-o",
        "snapback:plan=home",
        "tank/a@snap",
        "tank/b/c@snap",
      ],
    });
    expect(c.creates).toEqual(["tank/a@snap", "tank/b/c@snap"]);
    expect(c.extras).toEqual([]);
  });

  it("zfs-fuse: -r on the common ancestor, and the extra snapshots it makes are listed for removal", () => {
    const subtree = ["tank", "tank/a", "tank/a/x", "tank/b", "tank/c"];
    const c = snapshotCommand(fuse, ["tank/a", "tank/b"], "snap", props, subtree);
    expect(c.method).toBe("recursive");
    expect(c.ancestor).toBe("tank");
    expect(c.command.args).toEqual([
      "snapshot",
      "-r",
      "-o",
      "snapback:run=R1",
      "-o",
      "snapback:plan=home",
      "tank@snap",
    ]);
    expect([...c.creates].sort()).toEqual([
      "tank/a/x@snap",
      "tank/a@snap",
      "tank/b@snap",
      "tank/c@snap",
      "tank@snap",
    ]);
    expect(c.extras.sort()).toEqual(["tank/a/x@snap", "tank/c@snap", "tank@snap"]);
  });

  it("zfs-fuse: a parent and all its children need no extra snapshot", () => {
    const c = snapshotCommand(fuse, ["tank/a", "tank/a/x"], "s", props, ["tank/a", "tank/a/x"]);
    expect(c.command.args.at(-1)).toBe("tank/a@s");
    expect(c.extras).toEqual([]);
  });

  it("one dataset is a plain snapshot on both", () => {
    for (const caps of [fuse, openzfs]) {
      const c = snapshotCommand(caps, ["tank/a"], "s", props);
      expect(c.method).toBe("single");
      expect(c.command.args).not.toContain("-r");
      expect(c.command.args.at(-1)).toBe("tank/a@s");
    }
  });

  it("finds the deepest common ancestor", () => {
    expect(commonAncestor(["tank/a/b", "tank/a/c"])).toBe("tank/a");
    expect(commonAncestor(["tank/a", "tank/ab"])).toBe("tank");
    expect(commonAncestor(["tank/a", "tank/a/b"])).toBe("tank/a");
    expect(() => commonAncestor(["tank/a", "other/a"])).toThrow(/different pools/);
  });
});

describe("showing a snapshot", () => {
  const target = {
    snapshot: "tank/a@s",
    dir: `${VIEW_ROOT}/p-r/tank/0`,
    mountpoint: "/data",
    clone: "tank/snapback-p-r-0",
  };

  it("OpenZFS mounts the snapshot itself, read-only", () => {
    expect(exposeMethod(openzfs)).toBe("mount");
    expect(exposeCommands("mount", target, props)).toEqual([
      { file: "mount", args: ["-t", "zfs", "-o", "ro", "tank/a@s", target.dir] },
    ]);
  });

  it("without mount support but with .zfs, binds the snapshot directory", () => {
    const caps: ZfsCapabilities = { ...openzfs, snapshotMount: false };
    expect(exposeMethod(caps)).toBe("snapdir");
    expect(exposeCommands("snapdir", target, props)[0]).toEqual({
      file: "mount",
      args: ["--bind", "/data/.zfs/snapshot/s", target.dir],
    });
    expect(exposeCommands("snapdir", { ...target, mountpoint: "/" }, props)[0]?.args[1]).toBe(
      "/.zfs/snapshot/s",
    );
  });

  it("zfs-fuse clones read-only, never auto-mounted, at our directory, marked as ours", () => {
    expect(exposeMethod(fuse)).toBe("clone");
    const [clone, mount] = exposeCommands("clone", target, props);
    expect(clone?.args).toEqual([
      "clone",
      "-o",
      "readonly=on",
      "-o",
      "canmount=noauto",
      "-o",
      `mountpoint=${target.dir}`,
      "-o",
      "snapback:run=R1",
      "-o",
      "snapback:plan=home",
      "tank/a@s",
      "tank/snapback-p-r-0",
    ]);
    expect(mount).toEqual({
      file: "zfs",
      args: ["mount", "tank/snapback-p-r-0"],
      unlessMounted: true,
    });
  });

  it("has no way when neither mounting nor cloning exists", () => {
    expect(
      exposeMethod({ snapshotMount: false, snapshotDir: false, clones: false }),
    ).toBeUndefined();
  });
});

describe("names and listings", () => {
  it("makes names ZFS accepts, all recognisable as snapback's", () => {
    expect(snapshotName("home", "20261122T024000Z-1a2b")).toBe(
      "snapback-home-20261122T024000Z-1a2b",
    );
    expect(snapshotName("we ird/plan", "r")).toBe("snapback-we-ird-plan-r");
    expect(cloneName("home", "R", "tank/a")).toMatch(/^tank\/snapback-home-R-[0-9a-f]{10}$/);
    expect(cloneName("home", "R", "tank/a")).not.toBe(cloneName("home", "R", "tank/b"));
    expect(viewDir("home", "R", "tank/a")).toMatch(
      new RegExp(`^${VIEW_ROOT}/home-R/tank/[0-9a-f]{10}$`),
    );
  });

  it("lists own objects with exact numbers either way", () => {
    expect(listObjectsCommand(openzfs).args.slice(0, 3)).toEqual(["list", "-H", "-p"]);
    const fuseList = listObjectsCommand(fuse);
    expect(fuseList.args).not.toContain("list");
    expect(fuseList.args.slice(0, 4)).toEqual(["get", "-H", "-p", "-r"]);
  });

  it("orders binds parents first and drops duplicates", () => {
    const binds = orderBinds([
      { from: "/v/1", to: "/data/c1" },
      { from: "/v/0", to: "/data" },
      { from: "/v/2", to: "/data/c1/g" },
      { from: "/v/1b", to: "/data/c1" },
    ]);
    expect(binds.map((b) => b.to)).toEqual(["/data", "/data/c1", "/data/c1/g"]);
    expect(binds[1]?.from).toBe("/v/1");
  });

  it("selects datasets by snapback:backup", () => {
    expect(selectedFor("on", "home")).toBe(true);
    expect(selectedFor("home", "home")).toBe(true);
    expect(selectedFor("db,home", "home")).toBe(true);
    expect(selectedFor("db", "home")).toBe(false);
    expect(selectedFor("-", "home")).toBe(false);
    expect(selectedFor("off", "home")).toBe(false);
  });
});
