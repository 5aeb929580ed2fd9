import { rmdir } from "node:fs/promises";
import { dirname } from "node:path";
import { run } from "../../exec/index.js";
import { isUnder } from "../../util/paths.js";
import { VIEW_ROOT } from "./commands.js";
import { mountAt } from "./mounts.js";

/**
 * Unmounts whatever is mounted at one of our view directories. zfs-fuse must hear about the
 * unmount through `zfs unmount`, or it keeps the dataset busy; a kernel mount takes `umount`.
 */
export async function unmountDir(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 4; attempt++) {
    const m = await mountAt(dir);
    if (!m) return;
    const viaZfs =
      m.fstype === "fuse.zfs" ? await run("zfs", ["unmount", dir], { reject: false }) : undefined;
    if (viaZfs?.exitCode !== 0) await run("umount", [dir]);
  }
  if (await mountAt(dir)) await run("umount", [dir]);
}

/** Removes an (empty) view directory and the group directories above it that became empty. */
export async function removeDirAndEmptyParents(dir: string, root = VIEW_ROOT): Promise<void> {
  let current = dir;
  while (current !== root && isUnder(current, root)) {
    try {
      await rmdir(current);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Not empty or not a directory: another group still uses it, or it is not ours.
      if (code === "ENOTEMPTY" || code === "EEXIST" || code === "ENOTDIR") return;
      if (code !== "ENOENT") throw e;
    }
    current = dirname(current);
  }
}
