import { mkdir, rm } from "node:fs/promises";
import { errorMessage, SnapbackError } from "../errors.js";
import { DeferStack } from "../core/defer.js";
import { Journal } from "../core/journal.js";
import type { RunPlan } from "../core/plan.js";
import { newRunId } from "../core/runid.js";
import type { TakeContext, TakenSnapshot } from "../core/snapshot.js";
import { snapshotResolver } from "./spot.js";

/** A snapshot of a plan's sources taken for a check, readable until the callback returns. */
export interface FreshSnapshot {
  /** Where an original path is readable in the snapshot. */
  resolve: (path: string) => string;
  host: string;
  /** A journaled temp dir of this check, removed afterwards. */
  tmpDir: string;
  /** Sources read live (not on a snapshot-capable filesystem). */
  notPointInTime: string[];
}

/**
 * Takes snapshots of the plan's sources the way a run does — planned, journaled before they
 * exist, released afterwards whatever happens (a SIGKILL leaves a journal the next run
 * reclaims) — and hands them to `fn`. The caller holds the plan's lock. The planning is
 * passed in (`planRun` of src/run/plan.ts) because the run pipeline sits above check.
 */
export async function withFreshSnapshot<T>(
  planRun: (planName: string, runId: string) => Promise<RunPlan>,
  planName: string,
  signal: AbortSignal,
  onWarning: (message: string) => void,
  fn: (fresh: FreshSnapshot) => Promise<T>,
): Promise<T> {
  const p = await planRun(planName, newRunId());
  const journal = await Journal.create(p.stateDir, p.runId, p.planName);
  let unwindFailed = false;
  try {
    await using stack = new DeferStack((what, e) => {
      unwindFailed = true;
      onWarning(
        `cleanup: ${what} failed: ${errorMessage(e)} (the next run or 'snapback cleanup' retries)`,
      );
    });
    const ctx: TakeContext = { plan: p.planName, runId: p.runId, journal };
    const tmpEntry = { provider: "fs", type: "dir", id: p.tmpDir };
    await journal.add(tmpEntry);
    await mkdir(p.tmpDir, { recursive: true, mode: 0o700 });
    stack.defer(`removing ${p.tmpDir}`, async () => {
      await rm(p.tmpDir, { recursive: true, force: true });
      await journal.gone(tmpEntry);
    });
    const taken: TakenSnapshot[] = [];
    for (const g of p.groups) {
      if (signal.aborted) throw new SnapbackError("interrupted");
      const t = await g.provider.take(g.snapshot, ctx);
      taken.push(t);
      // Never kept: a check's snapshot is no restore point.
      stack.defer(`removing ${g.snapshot.kind} snapshot of ${g.snapshot.sources.join(", ")}`, () =>
        g.provider.release(t, ctx),
      );
    }
    return await fn({
      resolve: snapshotResolver(taken.flatMap((t) => t.binds)),
      host: p.host,
      tmpDir: p.tmpDir,
      notPointInTime: p.notPointInTime,
    });
  } finally {
    if (!unwindFailed) await journal.remove();
  }
}
