import type { RepositoryEngine } from "../engine/types.js";
import { errorMessage } from "../errors.js";
import type { ScheduledCheckOutcome } from "../core/events.js";
import type { RunPlan } from "../core/plan.js";
import type { TakenSnapshot } from "../core/snapshot.js";
import { snapshotResolver, spotCheck } from "./spot.js";
import { checkDue, readCheckState, writeCheckState } from "./state.js";

export interface ScheduledCheckRequest {
  run: RunPlan;
  /** The repositories the run has just backed up to. */
  engines: RepositoryEngine[];
  /** The run's snapshots (in place when `spot` is set): exactly what the new backup was made from. */
  taken: TakenSnapshot[];
  signal: AbortSignal;
  warn: (message: string, repository?: string) => void;
  /** Called when the check is due and starts (the run's phase). */
  onStart?: () => void;
  now?: Date;
}

/**
 * The plan's `[plans.X.check]` after a successful backup, when the last passing check is older
 * than `every`. The spot check compares with the run's own snapshots, the exact state the
 * backup read, so nothing shows up as changed. Problems are warnings: the backup stands.
 */
export async function runScheduledCheck(
  req: ScheduledCheckRequest,
): Promise<ScheduledCheckOutcome | undefined> {
  const schedule = req.run.plan.check;
  if (!schedule || req.engines.length === 0) return undefined;
  const now = req.now ?? new Date();
  if (!checkDue(schedule.every, await readCheckState(req.run.stateDir, req.run.planName), now))
    return undefined;
  req.onStart?.();

  const outcome: ScheduledCheckOutcome = {
    ok: true,
    ...(schedule.read_data === undefined ? {} : { read_data: schedule.read_data }),
    ...(schedule.spot === undefined ? {} : { spot: schedule.spot }),
    mismatches: 0,
  };
  const problems: string[] = [];
  const resolve = snapshotResolver(req.taken.flatMap((t) => t.binds));
  for (const engine of req.engines) {
    try {
      const r = await engine.check({
        ...(schedule.read_data === undefined ? {} : { readData: schedule.read_data }),
        signal: req.signal,
      });
      if (!r.ok) problems.push(`${engine.repoName}: check found errors: ${r.errors.join("; ")}`);
      if (schedule.spot !== undefined) {
        const spot = await spotCheck(engine, {
          planName: req.run.planName,
          host: req.run.host,
          count: schedule.spot,
          resolve,
          tmpDir: req.run.tmpDir,
          signal: req.signal,
        });
        outcome.mismatches += spot.mismatches.length;
        for (const m of spot.mismatches)
          problems.push(`${engine.repoName}: spot check: ${m.path}: ${m.problems.join(", ")}`);
        for (const e of spot.errors) problems.push(`${engine.repoName}: spot check: ${e}`);
      }
    } catch (e) {
      if (req.signal.aborted) throw e;
      problems.push(`${engine.repoName}: check failed: ${errorMessage(e)}`);
    }
  }
  if (problems.length > 0) {
    outcome.ok = false;
    outcome.error = problems.join("; ");
    for (const p of problems) req.warn(`scheduled check: ${p}`);
    return outcome;
  }
  await writeCheckState(req.run.stateDir, req.run.planName, {
    last_ok: now.toISOString(),
    ...(schedule.read_data === undefined ? {} : { read_data: schedule.read_data }),
    ...(schedule.spot === undefined ? {} : { spot: schedule.spot }),
  });
  return outcome;
}
