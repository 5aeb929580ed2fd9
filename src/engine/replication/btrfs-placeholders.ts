import { lstat, readdir, rmdir } from "node:fs/promises";
import { basename, dirname, join, relative } from "node:path";
import { errorMessage, SnapbackError } from "../../errors.js";
import { run } from "../../exec/index.js";
import { SNAPSHOT_DIR_NAME, parseSnapshotName } from "../../snapshot/btrfs/naming.js";
import { isUnder } from "../../util/paths.js";

/**
 * Inode of the empty directory a btrfs snapshot shows where the subvolume it was taken of held
 * a nested subvolume (BTRFS_EMPTY_SUBVOL_DIR_OBJECTID).
 */
const EMPTY_SUBVOLUME_STUB_INO = 2;

interface Stubs {
  dir: string;
  /** snapback's own snapshots as they appear inside the snapshot: empty stubs. */
  stubs: string[];
  /** The default `.snapback` holds nothing but those: it goes as well. */
  removeDir: boolean;
}

/**
 * Where snapback's own snapshots show inside `snapshot` (of `subvolume`, made in
 * dirname(snapshot)): a btrfs snapshot shows every subvolume that was nested in its source as
 * an empty directory, so a run's snapshot carries `.snapback/` with a stub per snapshot there at
 * that instant (replication parents, restore points, another plan's run), or an empty
 * `.snapback` made just before it.
 */
async function stubsIn(snapshot: string, subvolume: string): Promise<Stubs[]> {
  const places = new Set([join(snapshot, SNAPSHOT_DIR_NAME)]);
  // A snapshot_dir inside the subvolume shows inside the snapshot too; the directory is the user's.
  const dir = dirname(snapshot);
  if (isUnder(dir, subvolume) && dir !== subvolume)
    places.add(join(snapshot, relative(subvolume, dir)));
  const out: Stubs[] = [];
  for (const place of places) {
    let names: string[];
    try {
      if (!(await lstat(place)).isDirectory()) continue;
      names = await readdir(place);
    } catch {
      continue;
    }
    const stubs: string[] = [];
    for (const name of names) {
      if (parseSnapshotName(name) === undefined) continue;
      const st = await lstat(join(place, name));
      if (st.isDirectory() && st.ino === EMPTY_SUBVOLUME_STUB_INO) stubs.push(join(place, name));
    }
    const removeDir =
      basename(place) === SNAPSHOT_DIR_NAME &&
      dirname(place) === snapshot &&
      stubs.length === names.length;
    if (stubs.length > 0 || removeDir) out.push({ dir: place, stubs, removeDir });
  }
  return out;
}

/**
 * Makes `snapshot` (read-only, never sent yet) free of snapback's own snapshots before it is
 * sent: briefly writable, the stubs of our snapshots (and the default `.snapback` when nothing
 * else is in it) removed, read-only again. Only names snapback made are touched: a user's nested
 * subvolume stays as btrfs shows it. The uuid, parent uuid and generation at creation do not
 * change, so the parent lookup and received_uuid verification work as before; btrfs refuses to
 * make a snapshot writable while a send of it runs, and this runs before the first one. A
 * snapshot with nothing to remove is not touched (a second target of the same run). Killed
 * while writable, it is still the dead run's journaled snapshot (reclaimed by the next run or
 * `cleanup`), and a writable snapshot is never taken for a parent.
 */
export async function removeOwnSnapshotStubs(snapshot: string, subvolume: string): Promise<void> {
  const found = await stubsIn(snapshot, subvolume);
  if (found.length === 0) return;
  await setReadOnly(snapshot, false);
  try {
    for (const f of found) {
      for (const stub of f.stubs) await rmdir(stub);
      if (f.removeDir) await rmdir(f.dir);
    }
  } catch (e) {
    throw new SnapbackError(
      `cannot remove snapback's own snapshots from ${snapshot} before sending it: ${errorMessage(e)}`,
    );
  } finally {
    await setReadOnly(snapshot, true);
  }
}

async function setReadOnly(snapshot: string, ro: boolean): Promise<void> {
  await run("btrfs", ["property", "set", "-ts", snapshot, "ro", String(ro)]);
}
