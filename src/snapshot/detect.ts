import { realpath, stat } from "node:fs/promises";
import { UsageError, errorMessage } from "../errors.js";
import { run } from "../exec/index.js";
import { isUnder, normalizePath } from "../util/paths.js";
import type { DetectedSource, MountInfo, SnapshotKind } from "./types.js";

export type SnapshotSetting = "auto" | SnapshotKind;

export function kindOfFstype(fstype: string): SnapshotKind {
  if (fstype === "btrfs") return "btrfs";
  if (fstype === "zfs" || fstype === "fuse.zfs") return "zfs";
  return "none";
}

/**
 * Every mount of this mount namespace, in mount order (one findmnt for all sources: a plan
 * with many sources should not pay one process per source).
 */
export async function listMounts(): Promise<MountInfo[]> {
  const r = await run("findmnt", ["-J", "-l", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS,FSROOT"]);
  const parsed = JSON.parse(r.stdout) as { filesystems?: Record<string, string | null>[] };
  return (parsed.filesystems ?? []).map((fs) => {
    const fsroot = fs["fsroot"] ?? "/";
    let source = fs["source"] ?? "";
    // findmnt appends "[fsroot]" to the device of subvolume and bind mounts; fsroot says it already.
    const suffix = `[${fsroot}]`;
    if (fsroot !== "/" && source.endsWith(suffix)) source = source.slice(0, -suffix.length);
    return {
      target: fs["target"] ?? "",
      source,
      fstype: fs["fstype"] ?? "",
      options: fs["options"] ?? "",
      fsroot,
    };
  });
}

/**
 * The mount that holds an already resolved path: the deepest target above it, and of several
 * mounts stacked on that target the last one (the one on top), as `findmnt -T` decides.
 */
export function mountOf(realPath: string, mounts: readonly MountInfo[]): MountInfo | undefined {
  let best: MountInfo | undefined;
  for (const m of mounts) {
    if (!isUnder(realPath, m.target)) continue;
    if (!best || m.target.length >= best.target.length) best = m;
  }
  return best;
}

/**
 * Resolves each source of a plan to the filesystem that holds it and the snapshot kind to use.
 * Throws a UsageError (nothing touched) for a missing source or one whose filesystem cannot
 * give the snapshot kind the plan forces.
 */
export async function detectSources(
  planName: string,
  sources: string[],
  setting: SnapshotSetting,
): Promise<DetectedSource[]> {
  const key = `plans.${planName}.sources`;
  const resolved: { path: string; real: string }[] = [];
  for (const source of sources) {
    const path = normalizePath(source);
    try {
      await stat(path);
      resolved.push({ path, real: await realpath(path) });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR")
        throw new UsageError(`${key}: ${path} does not exist`);
      throw new UsageError(`${key}: cannot access ${path}: ${errorMessage(e)}`);
    }
  }
  if (resolved.length === 0) return [];
  const mounts = await listMounts();
  return resolved.map(({ path, real }) => {
    const mount = mountOf(real, mounts);
    if (!mount) throw new UsageError(`${key}: no mount found for ${path}`);
    const detected = kindOfFstype(mount.fstype);
    if (setting === "none") return { path, kind: "none", mount };
    if (setting !== "auto" && detected !== setting) {
      throw new UsageError(
        `${key}: ${path} is on ${mount.fstype} (${mount.target}), not ${setting}`,
        {
          hint: `plans.${planName}.snapshot = "${setting}" needs every source on ${setting}; use "auto" to back up others live`,
        },
      );
    }
    return { path, kind: detected, mount };
  });
}
