import { SnapbackError } from "../../errors.js";
import { isUnder } from "../../util/paths.js";
import type { JournalEntry } from "../../core/snapshot.js";
import { poolOf, VIEW_ROOT } from "./commands.js";
import { mountAt, zfsMounts } from "./mounts.js";
import { removeDirAndEmptyParents, unmountDir } from "./unmount.js";
import { destroyIfOurs, ownership, rows, zfs } from "./zfs.js";

/**
 * Removes one object a dead run journaled. The journal says what to look at; the snapback
 * property on the object says whether it may go: a dataset or snapshot without it is never
 * destroyed, whatever the journal claims. Already gone is success.
 */
export async function reclaimZfs(entry: JournalEntry): Promise<void> {
  if (entry.provider !== "zfs") throw new Error(`not a ZFS journal entry: ${entry.provider}`);
  switch (entry.type) {
    case "mount":
      return reclaimMount(entry.id);
    case "clone":
      return reclaimClone(entry.id);
    case "snapshot":
      return reclaimSnapshot(entry.id);
    default:
      throw new SnapbackError(`unknown ZFS journal entry "${entry.type}" for ${entry.id}`);
  }
}

export async function reclaimMount(dir: string): Promise<void> {
  const m = await mountAt(dir);
  if (m) {
    if (!isUnder(dir, VIEW_ROOT) && !/snapback/.test(m.source)) {
      throw new SnapbackError(
        `refusing to unmount ${dir}: ${m.source} is not a snapback snapshot view`,
      );
    }
    await unmountDir(dir);
  }
  if (isUnder(dir, VIEW_ROOT)) await removeDirAndEmptyParents(dir);
}

export async function reclaimClone(name: string): Promise<void> {
  const owner = await ownership(name);
  if (!owner.exists || owner.run === undefined) return;
  for (const m of await zfsMounts()) if (m.source === name) await unmountDir(m.target);
  await destroyIfOurs(name);
}

export async function reclaimSnapshot(name: string): Promise<void> {
  const owner = await ownership(name);
  if (!owner.exists || owner.run === undefined) return;
  // A mounted snapshot or a clone of it keeps it from being destroyed.
  for (const m of await zfsMounts()) if (m.source === name) await unmountDir(m.target);
  for (const clone of await dependentClones(name)) await reclaimClone(clone);
  await destroyIfOurs(name);
}

async function dependentClones(snapshot: string): Promise<string[]> {
  const r = await zfs([
    "list",
    "-H",
    "-o",
    "name,origin",
    "-t",
    "filesystem",
    "-r",
    poolOf(snapshot),
  ]);
  return rows(r.stdout)
    .filter((f) => f[1] === snapshot)
    .map((f) => f[0] ?? "");
}
