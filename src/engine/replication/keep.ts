import { errorMessage } from "../../errors.js";
import type { SnapshotProvider, TakeContext, TakenSnapshot } from "../../core/snapshot.js";
import type { RepositoryEngine } from "../types.js";

/**
 * How the run keeps the source snapshots a replication target needs: at the point where it
 * would release a snapshot, it asks every repository of the plan (reachable this run or not —
 * the pins live in state_dir) whether one of the snapshot's names is pinned.
 */
export async function pinnedByEngines(
  engines: readonly RepositoryEngine[],
  planName: string,
  onError?: (message: string) => void,
): Promise<Set<string>> {
  const out = new Set<string>();
  for (const e of engines) {
    if (!e.pinnedSourceSnapshots) continue;
    try {
      for (const name of await e.pinnedSourceSnapshots(planName)) out.add(name);
    } catch (err) {
      onError?.(`${e.repoName}: cannot read the replication parents: ${errorMessage(err)}`);
    }
  }
  return out;
}

export function needsKeeping(taken: TakenSnapshot, pinned: ReadonlySet<string>): boolean {
  return taken.names.some((n) => pinned.has(n));
}

/**
 * Leaves `taken` on the source: the provider's own keep() where it has one (btrfs). A ZFS
 * snapshot is shown through mounts or clones that must go whatever happens: those are released
 * by the provider's release() given a copy of the plan that lists no snapshot to destroy, and
 * the snapshots are then marked done in the journal so no later cleanup takes them.
 */
export async function keepForReplication(
  provider: SnapshotProvider,
  taken: TakenSnapshot,
  ctx: TakeContext,
): Promise<void> {
  if (provider.keep) return provider.keep(taken, ctx);
  if (taken.plan.kind !== "zfs") return provider.release(taken, ctx);
  const detail = taken.plan.detail as { datasets?: unknown } | null;
  if (!detail || !Array.isArray(detail.datasets)) return provider.release(taken, ctx);
  const viewsOnly: TakenSnapshot = {
    ...taken,
    plan: { ...taken.plan, detail: { ...detail, datasets: [] } },
  };
  await provider.release(viewsOnly, ctx);
  for (const name of taken.names)
    await ctx.journal.done({ provider: "zfs", type: "snapshot", id: name });
}

/**
 * The release step the run defers for every snapshot group: kept when a replication target
 * pins it, otherwise whatever `releaseOrKeep` (local retention) decides.
 */
export async function releaseUnlessPinned(
  engines: readonly RepositoryEngine[],
  planName: string,
  provider: SnapshotProvider,
  taken: TakenSnapshot,
  ctx: TakeContext,
  otherwise: () => Promise<void>,
): Promise<void> {
  const pinned = await pinnedByEngines(engines, planName);
  if (needsKeeping(taken, pinned)) return keepForReplication(provider, taken, ctx);
  return otherwise();
}
