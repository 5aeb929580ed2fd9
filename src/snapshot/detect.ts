import { readFile, realpath, stat } from "node:fs/promises";
import { UsageError, errorMessage } from "../errors.js";
import { isUnder, normalizePath } from "../util/paths.js";
import type { DetectedSource, MountInfo, SnapshotKind } from "../core/snapshot.js";

export type SnapshotSetting = "auto" | SnapshotKind;

export function kindOfFstype(fstype: string): SnapshotKind {
  if (fstype === "btrfs") return "btrfs";
  if (fstype === "zfs" || fstype === "fuse.zfs") return "zfs";
  return "none";
}

/**
 * Every mount of this mount namespace, in mount order, read from /proc/self/mountinfo (what
 * findmnt reads too): in-process, where a findmnt costs every run a process start.
 */
export async function listMounts(): Promise<MountInfo[]> {
  return parseMountinfo(await readFile("/proc/self/mountinfo", "utf8"));
}

/** The kernel writes space, tab, newline and backslash in paths as \\ooo octal escapes. */
function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * `id parent major:minor root mountpoint options [optional fields...] - fstype source superoptions`
 * (proc(5)). A line that does not have that shape is skipped.
 */
export function parseMountinfo(text: string): MountInfo[] {
  const mounts: MountInfo[] = [];
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    const dash = fields.indexOf("-", 6);
    if (dash < 0 || fields.length < dash + 3) continue;
    const [, , , root, target, vfsOptions] = fields;
    const fstype = fields[dash + 1] ?? "";
    const source = fields[dash + 2] ?? "";
    const superOptions = fields[dash + 3] ?? "";
    if (root === undefined || target === undefined) continue;
    mounts.push({
      target: unescapeMountinfo(target),
      source: unescapeMountinfo(source),
      fstype,
      options: [vfsOptions ?? "", superOptions].filter(Boolean).join(","),
      fsroot: unescapeMountinfo(root),
    });
  }
  return mounts;
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
