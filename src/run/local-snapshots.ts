import { errorMessage } from "../errors.js";
import type { KeptSnapshot } from "../core/snapshot.js";
import type { RunPlan } from "../core/plan.js";

/**
 * Local retention (`local_snapshots = N`): the filesystem snapshots a run leaves on the
 * source as restore points, like snapper or btrfs-backup --num-backups. N counts runs per
 * snapshot location (btrfs: per snapshot directory, i.e. per subvolume the plan snapshots),
 * so every source keeps its newest N; a run's nested snapshots go with it.
 */
export interface LocalSelection {
  keep: KeptSnapshot[];
  remove: KeptSnapshot[];
}

export interface LocalTrimReport extends LocalSelection {
  /** Kinds of snapshot whose provider cannot keep restore points (their snapshots are released). */
  unsupported: string[];
  errors: string[];
}

/** Every restore point of the plan where its groups put snapshots, oldest first. */
export async function listLocalSnapshots(
  groups: RunPlan["groups"],
  planName: string,
): Promise<KeptSnapshot[]> {
  const seen = new Map<string, KeptSnapshot>();
  for (const g of groups) {
    if (!g.provider.listKept) continue;
    for (const k of await g.provider.listKept(g.snapshot, planName)) {
      const key = k.objects[0] ?? `${k.location}@${k.runId}`;
      const prior = seen.get(key);
      // A directory shared by several items is listed once per item; keep the mapped one.
      if (!prior || prior.sources.length < k.sources.length) seen.set(key, k);
    }
  }
  return [...seen.values()].sort(byAge);
}

/**
 * Which restore points stay: the newest `keepRuns` runs in each location. The current run
 * (still being backed up from) is never removed here: with N > 0 it takes one of the N
 * places; with N = 0 the run itself releases it.
 */
export function selectLocal(
  points: KeptSnapshot[],
  keepRuns: number,
  currentRunId?: string,
): LocalSelection {
  const keep: KeptSnapshot[] = [];
  const remove: KeptSnapshot[] = [];
  const byLocation = new Map<string, KeptSnapshot[]>();
  for (const p of points) byLocation.set(p.location, [...(byLocation.get(p.location) ?? []), p]);
  for (const list of byLocation.values()) {
    const current = list.filter((p) => p.runId === currentRunId);
    const others = list.filter((p) => p.runId !== currentRunId);
    const newestRunFirst = [
      ...new Set(
        [...others]
          .sort(byAge)
          .reverse()
          .map((p) => p.runId),
      ),
    ];
    const places = Math.max(0, keepRuns - (current.length > 0 && keepRuns > 0 ? 1 : 0));
    const kept = new Set(newestRunFirst.slice(0, places));
    if (keepRuns > 0) keep.push(...current);
    for (const p of others) (kept.has(p.runId) ? keep : remove).push(p);
  }
  return { keep: keep.sort(byAge), remove: remove.sort(byAge) };
}

/** Removes the restore points beyond the newest `keepRuns` (dryRun: only says which). */
export async function trimLocalSnapshots(
  groups: RunPlan["groups"],
  planName: string,
  keepRuns: number,
  opts: { dryRun: boolean; currentRunId?: string; pinned?: ReadonlySet<string> },
): Promise<LocalTrimReport> {
  const unsupported = [
    ...new Set(
      groups
        .filter((g) => g.snapshot.kind !== "none" && !g.provider.listKept)
        .map((g) => g.snapshot.kind),
    ),
  ];
  const selection = selectLocal(
    await listLocalSnapshots(groups, planName),
    keepRuns,
    opts.currentRunId,
  );
  const pinned = opts.pinned ?? new Set<string>();
  const isPinned = (k: KeptSnapshot): boolean => k.objects.some((o) => pinned.has(o));
  selection.keep.push(...selection.remove.filter(isPinned));
  selection.remove = selection.remove.filter((k) => !isPinned(k));
  const errors: string[] = [];
  const removed: KeptSnapshot[] = [];
  for (const k of selection.remove) {
    const provider = groups.find(
      (g) => g.snapshot.kind === k.kind && g.provider.removeKept,
    )?.provider;
    if (opts.dryRun) {
      removed.push(k);
      continue;
    }
    try {
      if (!provider?.removeKept) throw new Error(`no ${k.kind} provider to remove it`);
      await provider.removeKept(k);
      removed.push(k);
    } catch (e) {
      errors.push(
        `could not remove the local snapshot ${k.objects[0] ?? k.runId}: ${errorMessage(e)}`,
      );
    }
  }
  return { keep: selection.keep, remove: removed, unsupported, errors };
}

/** The JSON shape of a restore point (`snapshots --local`, `prune`). */
export function localSnapshotJson(k: KeptSnapshot): {
  plan: string;
  kind: string;
  run_id: string;
  time: string;
  name: string;
  path: string;
  sources: { source: string; path: string }[];
  nested: { source: string; path: string }[];
  objects: string[];
} {
  const path = k.objects[0] ?? "";
  return {
    plan: k.plan,
    kind: k.kind,
    run_id: k.runId,
    time: new Date(k.createdMs).toISOString(),
    name: path.split("/").at(-1) ?? "",
    path,
    sources: k.sources,
    nested: k.nested ?? [],
    objects: k.objects,
  };
}

/** Oldest first; within one location by creation order, across locations by time. */
function byAge(a: KeptSnapshot, b: KeptSnapshot): number {
  if (a.location === b.location) return a.sequence - b.sequence;
  return a.createdMs - b.createdMs || a.runId.localeCompare(b.runId);
}
