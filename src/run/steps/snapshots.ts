import { releaseUnlessPinned } from "../../engine/replication/keep.js";
import type { TakeContext, TakenSnapshot } from "../../core/snapshot.js";
import { releaseOrKeep } from "../retention.js";
import { throwIfAborted } from "./abort.js";
import { hookLines } from "./before-hooks.js";
import type { RunState, RunStep } from "./types.js";
import type { Started } from "./start.js";

/**
 * All snapshots back to back (nothing slow between the first and the last), then the
 * `after_snapshot` hooks, which run even if a snapshot failed. Each snapshot is released in the
 * unwind — or kept, as a restore point or as the parent a replication target needs next.
 */
export const snapshots: RunStep<RunState & Started, { taken: readonly TakenSnapshot[] }> = {
  name: "snapshots",
  async run({ p, engines, emit, signal, warn, record, hooks, facts, journal }, unwind) {
    const takeCtx: TakeContext = { plan: p.planName, runId: p.runId, journal };
    const snapStart = performance.now();
    try {
      for (const g of p.groups) {
        const t = await g.provider.take(g.snapshot, takeCtx);
        record.taken.push(t);
        unwind.defer(
          `removing ${g.snapshot.kind} snapshot of ${g.snapshot.sources.join(", ")}`,
          () =>
            releaseUnlessPinned(engines, p.planName, g.provider, t, takeCtx, () =>
              releaseOrKeep(p, g.provider, t, takeCtx, record.summaries.length > 0),
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
    return { taken };
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
