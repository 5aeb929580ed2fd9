import { lstat, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { SnapbackError, UsageError } from "../../errors.js";
import { ProcessError, run } from "../../exec/index.js";
import { isUnder } from "../../util/paths.js";
import type { MountInfo } from "../../core/snapshot.js";

/** Inode number of every btrfs subvolume's root directory (BTRFS_FIRST_FREE_OBJECTID). */
export const SUBVOLUME_ROOT_INO = 256;

/** A path is a subvolume root if it is a directory with inode 256 (and btrfs, checked by the caller). */
export async function isSubvolume(path: string): Promise<boolean> {
  try {
    const st = await lstat(path);
    return st.isDirectory() && st.ino === SUBVOLUME_ROOT_INO;
  } catch {
    return false;
  }
}

/**
 * The root of the subvolume holding `realPath`, as reached through `mount`. Every subvolume has
 * its own st_dev, so walking up while st_dev stays the same ends at the subvolume root — unless
 * the mount only shows a directory inside the subvolume (subvol=/bind of a subdirectory), in
 * which case the walk ends at the mount point and that is not inode 256.
 */
export async function findSubvolumeRoot(realPath: string, mount: MountInfo): Promise<string> {
  const dev = (await stat(realPath)).dev;
  let top = realPath;
  while (top !== mount.target && top !== "/") {
    const parent = dirname(top);
    if ((await stat(parent)).dev !== dev) break;
    top = parent;
  }
  const st = await stat(top);
  if (!st.isDirectory() || st.ino !== SUBVOLUME_ROOT_INO) {
    throw new UsageError(
      `${realPath}: the btrfs subvolume holding it is not reachable through the mount at ${mount.target}` +
        ` (which shows ${mount.fsroot}, a directory inside a subvolume rather than a subvolume root)`,
      {
        hint: 'mount the subvolume itself (subvol=...) somewhere, or set the plan\'s snapshot = "none"',
      },
    );
  }
  return top;
}

export interface ListedSubvolume {
  id: number;
  /** Path from the top-level subvolume (id 5), starting with "/". */
  fsPath: string;
  /** Where it is visible through the given mount, if it is below the mount's fsroot. */
  path?: string;
}

/**
 * Every subvolume of the filesystem behind `mount`, mapped to the path it has under that mount.
 * `list -a` prints full paths from the top level (some prefixed with "<FS_TREE>/"); the plain
 * listing makes paths below the given subvolume relative to it, which is ambiguous.
 */
export async function listSubvolumes(mount: MountInfo): Promise<ListedSubvolume[]> {
  const r = await run("btrfs", ["subvolume", "list", "-a", mount.target]);
  const out: ListedSubvolume[] = [];
  for (const line of r.stdout.split("\n")) {
    const m = /^ID (\d+) gen \d+ top level \d+ path (.+)$/.exec(line);
    if (!m?.[1] || m[2] === undefined) continue;
    const fsPath = `/${m[2].replace(/^<FS_TREE>\//, "")}`;
    const path = visibleAt(fsPath, mount);
    out.push(
      path === undefined ? { id: Number(m[1]), fsPath } : { id: Number(m[1]), fsPath, path },
    );
  }
  return out;
}

function visibleAt(fsPath: string, mount: MountInfo): string | undefined {
  const root = mount.fsroot || "/";
  if (!isUnder(fsPath, root)) return undefined;
  return root === "/" ? join(mount.target, fsPath) : join(mount.target, fsPath.slice(root.length));
}

/** The UUID of the btrfs filesystem mounted at `mountTarget` (`filesystem show` wants a mount point, not any path). */
export async function filesystemUuid(mountTarget: string): Promise<string | undefined> {
  const r = await run("btrfs", ["filesystem", "show", mountTarget], { reject: false });
  if (r.exitCode !== 0) return undefined;
  return /uuid:\s*([0-9a-f-]{36})/i.exec(r.stdout)?.[1]?.toLowerCase();
}

/** Longest existing ancestor of a path (the path itself if it exists). */
export async function existingAncestor(path: string): Promise<string> {
  let p = path;
  for (;;) {
    try {
      await stat(p);
      return p;
    } catch {
      if (p === "/") return p;
      p = dirname(p);
    }
  }
}

const BUSY_RETRIES = 20;

/**
 * Deletes a subvolume; a missing one counts as deleted. A mount namespace that is still dying
 * can hold the subvolume for a moment, so "busy" is retried briefly before giving up.
 * Returns whether it existed.
 */
export async function deleteSubvolume(path: string): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    if (!(await pathExists(path))) return attempt > 0;
    const r = await run("btrfs", ["subvolume", "delete", path], { reject: false });
    if (r.exitCode === 0) return true;
    if (!(await pathExists(path))) return true;
    const busy = /busy/i.test(r.stderr);
    if (!busy || attempt >= BUSY_RETRIES) {
      throw new SnapbackError(
        `could not delete btrfs snapshot ${path}: ${new ProcessError(r).stderrTail(2) || r.command}`,
        {
          hint: busy
            ? "it is still in use; `snapback cleanup` retries later"
            : "run `snapback cleanup` once the cause is fixed",
        },
      );
    }
    await sleep(Math.min(50 * 2 ** attempt, 500));
  }
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw e;
  }
}
