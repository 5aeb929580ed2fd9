import type { SnapshotProvider } from "../../core/snapshot.js";
import { planZfs } from "./plan.js";
import { reclaimZfs } from "./reclaim.js";
import { releaseZfs, takeZfs } from "./take.js";

/**
 * ZFS datasets: one atomic snapshot per pool and run, shown read-only through a mounted
 * snapshot or (zfs-fuse) a read-only clone, everything marked with `snapback:run`.
 */
export const zfsProvider: SnapshotProvider = {
  kind: "zfs",
  plan: (sources, ctx) => planZfs(sources, ctx),
  take: (plan, ctx) => takeZfs(plan, ctx),
  release: (taken, ctx) => releaseZfs(taken.plan, ctx),
  reclaim: (entry) => reclaimZfs(entry),
};

export {
  zfsCapabilities,
  resetZfsCapabilities,
  detectCapabilities,
  type ZfsCapabilities,
  type ZfsProbe,
} from "./capabilities.js";
export { discoverDatasets, type DiscoveredDatasets } from "./discover.js";
export { listSnapbackObjects, removeSnapbackObject, type SnapbackZfsObject } from "./objects.js";
export { PROP_BACKUP, PROP_PLAN, PROP_RUN, VIEW_ROOT } from "./commands.js";
export type { ZfsTakenSnapshot } from "./take.js";
export type { ZfsGroupDetail } from "./plan.js";
