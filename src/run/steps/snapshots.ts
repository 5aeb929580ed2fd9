import { releaseUnlessPinned } from "../../engine/replication/keep.js";
import type { TakeContext, TakenSnapshot } from "../../core/snapshot.js";
import type { RunPlan } from "../../core/plan.js";
import { releaseOrKeep } from "../retention.js";
import { throwIfAborted } from "./abort.js";
import { hookLines } from "./before-hooks.js";
import type { RunState, RunStep } from "./types.js";
import type { Started } from "./start.js";

export interface Taken {
  taken: readonly TakenSnapshot[];
  /**
   * Starts releasing the snapshots now, newest first as the unwind would, without waiting:
   * once nothing reads them any more, their removal (the kernel drops every inode the engine
   * looked at: ~2.5 µs a file on btrfs) runs beside retention and the check. The unwind still
   * waits for each release and reports its failure; it never starts one twice.
   */
  releaseEarly: () => void;
}

/**
 * All snapshots back to back (nothing slow between the first and the last), then the
 * `after_snapshot` hooks, which run even if a snapshot failed. Each snapshot is released in the
 * unwind (or by `releaseEarly`) — or kept, as a restore point or as the parent a replication
 * target needs next.
 */
export const snapshots: RunStep<RunState & Started, Taken> = {
  name: "snapshots",
  async run({ p, engines, emit, signal, warn, record, hooks, facts, journal }, unwind) {
    const takeCtx: TakeContext = { plan: p.planName, runId: p.runId, journal };
    const snapStart = performance.now();
    const releases: (() => Promise<void>)[] = [];
    try {
      for (const g of p.groups) {
        const t = await g.provider.take(g.snapshot, takeCtx);
        record.taken.push(t);
        releases.push(
          unwind.defer(
            `removing ${g.snapshot.kind} snapshot of ${g.snapshot.sources.join(", ")}`,
            () =>
              releaseUnlessPinned(engines, p.planName, g.provider, t, takeCtx, () =>
                releaseOrKeep(p, g.provider, t, takeCtx, record.summaries.length > 0),
              ),
          ),
        );
      }
    } catch (e) {
      await hooks.afterSnapshot(facts, { error: e });
      throw e;
    }
    await hooks.afterSnapshot(facts);
    const taken = record.taken;
    const instants = taken.filter((t) => t.plan.kind !== "none").map((t) => t.takenAtMs);
    record.skewMs = instants.length > 0 ? Math.max(...instants) - Math.min(...instants) : null;
    for (const t of taken) for (const w of t.warnings) if (t.plan.kind !== "none") warn(w);
    emit({
      type: "snapshots",
      plan: p.planName,
      skew_ms: record.skewMs ?? 0,
      took_ms: round(performance.now() - snapStart),
      groups: taken.map((t) => ({
        kind: t.plan.kind,
        sources: t.plan.sources,
        atomic: t.plan.atomic,
        names: t.names,
      })),
    });
    throwIfAborted(signal);
    const releaseEarly = (): void => {
      // Failures surface in the unwind, which awaits the same promises.
      void releases
        .reduceRight<Promise<unknown>>(
          (before, release) => before.then(release, release),
          Promise.resolve(),
        )
        .catch(() => undefined);
    };
    return { taken, releaseEarly };
  },
  describe: ({ p }) => [
    ...p.groups.flatMap((g) => [
      `  ${g.snapshot.kind} snapshot of ${g.snapshot.sources.join(", ")}${g.snapshot.atomic && g.snapshot.sources.length > 1 ? " (atomic)" : ""}`,
      ...g.snapshot.steps.map((step) => `    ${step}`),
      ...g.snapshot.nested.map((n) => `    nested: ${n}`),
    ]),
    ...hookLines(p.plan.hooks.filter((h) => h.when === "after_snapshot")),
  ],
};

export function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/**
 * After the engines, nothing reads the snapshots any more — retention works on the
 * repositories, and so does the scheduled check unless it has a `spot` check, which compares
 * the backup with the snapshots — so they go now, beside those steps, instead of after them.
 */
export const releaseSnapshots: RunStep<RunState & Taken, object> = {
  name: "release snapshots",
  run({ p, releaseEarly }) {
    if (!spotChecked(p)) releaseEarly();
    return Promise.resolve({});
  },
  describe: ({ p }) =>
    p.groups.length === 0
      ? []
      : spotChecked(p)
        ? ["  the snapshots stay for the scheduled spot check, and are removed (or kept) after it"]
        : ["  the snapshots are removed (or kept) from here, beside retention and the check"],
};

const spotChecked = (p: RunPlan): boolean => p.plan.check?.spot !== undefined;
