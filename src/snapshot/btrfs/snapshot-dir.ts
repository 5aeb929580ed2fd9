import { lstat, mkdir, rmdir } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { SnapbackError, errorMessage } from "../../errors.js";
import { SNAPSHOT_DIR_NAME } from "./naming.js";
import { SUBVOLUME_ROOT_INO } from "./subvolume.js";

/**
 * The directory a run puts its snapshots in: created (0700) before the first snapshot, and,
 * when it is the default `<subvolume root>/.snapback`, removed again once the last snapshot in
 * it is gone, so a plan without restore points leaves nothing in the user's tree.
 */
export async function createSnapshotDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new SnapbackError(`cannot create the snapshot directory ${dir}: ${errorMessage(e)}`, {
      hint: "set the plan's snapshot_dir to a writable directory on the same btrfs filesystem",
    });
  }
}

/**
 * Whether `dir` is a default snapshot directory: a plain `.snapback` directory directly at a
 * subvolume root. A `snapshot_dir` the user named elsewhere never is; one that names exactly
 * that place is the default location spelled out and is treated the same.
 */
async function isDefaultSnapshotDir(dir: string): Promise<boolean> {
  if (basename(dir) !== SNAPSHOT_DIR_NAME) return false;
  try {
    const [own, parent] = await Promise.all([lstat(dir), lstat(dirname(dir))]);
    return (
      own.isDirectory() &&
      own.ino !== SUBVOLUME_ROOT_INO &&
      parent.isDirectory() &&
      parent.ino === SUBVOLUME_ROOT_INO &&
      own.dev === parent.dev
    );
  } catch {
    return false;
  }
}

/**
 * Removes the default snapshot directory `dir` if it is empty. rmdir is atomic and refuses a
 * directory that holds anything (a restore point, another plan's snapshot of the same
 * subvolume), so this needs no lock; the creating side copes with the directory vanishing
 * between its mkdir and its snapshot (see `snapshotInto`). Only tidiness: any failure leaves
 * the directory where it is, as before.
 */
export async function removeSnapshotDirIfEmpty(dir: string): Promise<void> {
  if (!(await isDefaultSnapshotDir(dir))) return;
  await rmdir(dir).catch(() => undefined);
}

/**
 * Runs `create` (a snapshot into `dir`) once more after recreating `dir` if it failed because
 * `dir` vanished since it was made: another run's `removeSnapshotDirIfEmpty` of the same
 * subvolume may remove it in between. A second vanishing is not retried (it would need a run
 * finishing in those same milliseconds twice).
 */
export async function snapshotInto<T>(dir: string, create: () => Promise<T>): Promise<T> {
  try {
    return await create();
  } catch (e) {
    if (await exists(dir)) throw e;
    await createSnapshotDir(dir);
    return create();
  }
}

function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}
