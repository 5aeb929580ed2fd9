import { readdir, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import type { MountInfo } from "../../core/snapshot.js";
import { parseSnapshotName, type SnapshotName } from "./naming.js";
import { SUBVOLUME_ROOT_INO, listSubvolumes } from "./subvolume.js";

export interface LocalSnapshot extends SnapshotName {
  /** Absolute path of the snapshot subvolume. */
  path: string;
  name: string;
  /** Creation time (birth time of the snapshot's root directory), ms since the epoch. */
  createdMs: number;
}

async function describe(path: string): Promise<LocalSnapshot | undefined> {
  const name = basename(path);
  const parsed = parseSnapshotName(name);
  if (!parsed) return undefined;
  try {
    const st = await stat(path);
    if (!st.isDirectory() || st.ino !== SUBVOLUME_ROOT_INO) return undefined;
    return { ...parsed, path, name, createdMs: st.birthtimeMs || st.mtimeMs };
  } catch {
    return undefined;
  }
}

const byAge = (a: LocalSnapshot, b: LocalSnapshot): number =>
  a.createdMs - b.createdMs || a.name.localeCompare(b.name);

/** snapback's snapshots directly in `dir` (a `.snapback` or `snapshot_dir`), oldest first. A missing dir has none. */
export async function listSnapbackSnapshots(dir: string): Promise<LocalSnapshot[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const found = await Promise.all(names.map((n) => describe(join(dir, n))));
  return found.filter((s): s is LocalSnapshot => s !== undefined).sort(byAge);
}

/**
 * snapback's snapshots anywhere on the filesystem behind `mount` that are visible through it,
 * oldest first: for `cleanup`, which does not know every snapshot_dir a past config used.
 */
export async function findSnapbackSnapshots(mount: MountInfo): Promise<LocalSnapshot[]> {
  const found = await Promise.all(
    (await listSubvolumes(mount))
      .filter((s) => s.path !== undefined && parseSnapshotName(basename(s.fsPath)) !== undefined)
      .map((s) => describe(s.path ?? "")),
  );
  return found.filter((s): s is LocalSnapshot => s !== undefined).sort(byAge);
}
