import { access, readFile } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../../exec/index.js";
import { zfsMounts } from "./mounts.js";

/**
 * What the installed ZFS can do. Two very different implementations exist on Linux: OpenZFS
 * (kernel module) and zfs-fuse (userspace daemon, pool version 23). They differ in exactly
 * the features a point-in-time backup needs, so every choice the provider makes is taken from
 * here, and everything here is detected, not assumed from the implementation's name.
 */
export interface ZfsCapabilities {
  /** `zfs list` works (for zfs-fuse: the daemon is running). */
  available: boolean;
  /** Why not, when `available` is false. */
  reason?: string;
  implementation: "openzfs" | "zfs-fuse" | "unknown";
  /** `zfs version` output's first line, where the command exists. */
  version?: string;
  /** `zfs snapshot a@x b@x` creates both in one transaction. */
  multiNameSnapshot: boolean;
  /** `zfs list -p` (exact numbers). */
  listParsable: boolean;
  /** `<mountpoint>/.zfs/snapshot/<name>` shows snapshots. */
  snapshotDir: boolean;
  /** `mount -t zfs pool/ds@snap DIR` works (kernel filesystem type `zfs`). */
  snapshotMount: boolean;
  /** `zfs clone` exists. */
  clones: boolean;
  /** Filesystem types ZFS datasets are mounted with (`zfs`, `fuse.zfs`). */
  mountFstypes: string[];
}

/** Raw observations; `detectCapabilities` turns them into capabilities without side effects. */
export interface ZfsProbe {
  /** Whether `zfs list -H -o name` exited 0, and its stderr otherwise. */
  listOk: boolean;
  listError?: string;
  /** `zfs` usage text (printed when run without a command). */
  usage: string;
  /** Output of `zfs version` when it exited 0. */
  versionOutput?: string;
  /** Contents of /proc/filesystems. */
  procFilesystems: string;
  /** The zfs-fuse daemon's control socket exists. */
  fuseSocket: boolean;
  /** fstypes of currently mounted datasets. */
  mountedFstypes: string[];
  /** Whether `.zfs/snapshot` exists below a mounted dataset; undefined if none is mounted. */
  snapshotDirSeen?: boolean;
}

/** The line of `zfs` usage that documents one subcommand. */
function usageLine(usage: string, command: string): string | undefined {
  return usage.split("\n").find((l) => new RegExp(`^\\s*${command}(\\s|$)`).test(l));
}

export function detectCapabilities(probe: ZfsProbe): ZfsCapabilities {
  const kernelZfs = /^\S*\s+zfs\s*$/m.test(probe.procFilesystems);
  const versionLine = probe.versionOutput
    ?.split("\n")
    .find((l) => l.trim())
    ?.trim();
  const implementation: ZfsCapabilities["implementation"] =
    versionLine !== undefined || kernelZfs
      ? "openzfs"
      : probe.fuseSocket || probe.mountedFstypes.includes("fuse.zfs")
        ? "zfs-fuse"
        : "unknown";

  const snapshotUsage = usageLine(probe.usage, "snapshot") ?? "";
  // OpenZFS documents several names with a trailing "...": "<filesystem|volume>@<snap> ...".
  const multiNameSnapshot = /@\S*>?\s+\.\.\.\s*$/.test(snapshotUsage);
  const listFlags =
    /^\s*list\s+\[-([A-Za-z]+)\]/.exec(usageLine(probe.usage, "list") ?? "")?.[1] ?? "";
  const listParsable = listFlags.includes("p");
  const clones = usageLine(probe.usage, "clone") !== undefined;

  const mountFstypes =
    probe.mountedFstypes.length > 0 ? [...new Set(probe.mountedFstypes)].sort() : [];
  if (mountFstypes.length === 0) {
    if (kernelZfs) mountFstypes.push("zfs");
    if (implementation === "zfs-fuse") mountFstypes.push("fuse.zfs");
  }

  return {
    available: probe.listOk,
    ...(probe.listOk ? {} : { reason: probe.listError?.trim() || "the zfs command failed" }),
    implementation,
    ...(versionLine === undefined ? {} : { version: versionLine }),
    multiNameSnapshot,
    listParsable,
    snapshotDir: probe.snapshotDirSeen ?? false,
    snapshotMount: kernelZfs,
    clones,
    mountFstypes,
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

export async function probeZfs(): Promise<ZfsProbe> {
  const list = await run("zfs", ["list", "-H", "-o", "name"], { reject: false }).catch(
    () => undefined,
  );
  if (!list) {
    return {
      listOk: false,
      listError: "zfs is not installed",
      usage: "",
      procFilesystems: "",
      fuseSocket: false,
      mountedFstypes: [],
    };
  }
  const usage = await run("zfs", [], { reject: false });
  const version = await run("zfs", ["version"], { reject: false });
  const procFilesystems = await readFile("/proc/filesystems", "utf8").catch(() => "");
  const fuseSocket = await exists("/var/run/zfs/zfs_socket");
  const mounts = await zfsMounts();
  let snapshotDirSeen: boolean | undefined;
  // A snapshot-free dataset still shows an empty .zfs/snapshot where the control dir exists.
  const probeMount = mounts.find((m) => m.fsroot === "/" && !m.source.includes("@"));
  if (probeMount) snapshotDirSeen = await exists(join(probeMount.target, ".zfs", "snapshot"));
  return {
    listOk: list.exitCode === 0,
    ...(list.exitCode === 0 ? {} : { listError: list.stderr }),
    usage: `${usage.stdout}\n${usage.stderr}`,
    ...(version.exitCode === 0 ? { versionOutput: version.stdout } : {}),
    procFilesystems,
    fuseSocket,
    mountedFstypes: mounts.map((m) => m.fstype),
    ...(snapshotDirSeen === undefined ? {} : { snapshotDirSeen }),
  };
}

let memo: Promise<ZfsCapabilities> | undefined;

/**
 * Detected once per process. An unavailable result is not kept, so starting the zfs-fuse
 * daemon later in the same process is noticed.
 */
export function zfsCapabilities(): Promise<ZfsCapabilities> {
  if (!memo) {
    const p = probeZfs().then(detectCapabilities);
    memo = p;
    void p.then(
      (c) => {
        if (!c.available && memo === p) memo = undefined;
      },
      () => {
        if (memo === p) memo = undefined;
      },
    );
  }
  return memo;
}

/** Forget the detected capabilities (tests; `doctor` after installing something). */
export function resetZfsCapabilities(): void {
  memo = undefined;
}
