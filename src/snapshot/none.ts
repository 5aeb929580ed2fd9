import { performance } from "node:perf_hooks";
import type { SnapshotPlan, SnapshotProvider } from "../core/snapshot.js";

interface NoneDetail {
  path: string;
  fstype: string;
}

function warningFor(d: NoneDetail): string {
  // On btrfs/zfs "none" was chosen in the config; saying the filesystem cannot would mislead.
  return d.fstype === "btrfs" || d.fstype === "zfs" || d.fstype === "fuse.zfs"
    ? `${d.path}: snapshot = "none": backed up live, not point-in-time`
    : `${d.path} is not on a snapshot-capable filesystem (${d.fstype}): backed up live, not point-in-time`;
}

/** Sources without snapshots: the engine reads the live files. */
export const noneProvider: SnapshotProvider = {
  kind: "none",

  plan(sources) {
    return Promise.resolve(
      sources.map((s): SnapshotPlan => {
        const detail: NoneDetail = { path: s.path, fstype: s.mount.fstype };
        return {
          kind: "none",
          sources: [s.path],
          atomic: false,
          steps: [`# ${warningFor(detail)}`],
          nested: [],
          detail,
        };
      }),
    );
  },

  take(plan) {
    const d = plan.detail as NoneDetail;
    return Promise.resolve({
      plan,
      binds: [],
      takenAtMs: performance.timeOrigin + performance.now(),
      warnings: [warningFor(d)],
      names: [],
    });
  },

  release() {
    return Promise.resolve();
  },

  reclaim() {
    return Promise.resolve();
  },
};
