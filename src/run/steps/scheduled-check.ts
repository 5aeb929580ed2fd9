import { runScheduledCheck } from "../../check/scheduled.js";
import { errorMessage } from "../../errors.js";
import type { TakenSnapshot } from "../../core/snapshot.js";
import type { RunPlan } from "../../core/plan.js";
import type { BackedUp } from "./retention.js";
import type { RunState, RunStep } from "./types.js";

/**
 * The plan's `[plans.X.check]` when it is due, on the repositories just backed up; a `spot`
 * check compares with the run's snapshots (kept in place for it: `releaseSnapshots`). Never
 * fails the backup: problems become warnings.
 */
export const scheduledCheck: RunStep<
  RunState & BackedUp & { taken: readonly TakenSnapshot[] },
  object
> = {
  name: "scheduled check",
  async run({ p, backedUp, taken, record, emit, signal, warn }) {
    if (backedUp.length === 0) return {};
    try {
      const check = await runScheduledCheck({
        run: p,
        engines: backedUp,
        taken: [...taken],
        signal,
        warn,
        onStart: () => emit({ type: "phase", plan: p.planName, phase: "check" }),
      });
      if (check) record.afterBackup.check = check;
    } catch (e) {
      if (signal.aborted) throw e;
      warn(`scheduled check failed: ${errorMessage(e)}`);
      record.afterBackup.check = { ok: false, mismatches: 0, error: errorMessage(e) };
    }
    return {};
  },
  describe: ({ p }) => describeCheck(p).map((a) => `  after: ${a}`),
};

/** What the scheduled check would do, as `backup --dry-run` shows it. */
export function describeCheck(p: RunPlan): string[] {
  const check = p.plan.check;
  if (!check) return [];
  const what = [
    "check the repository structure",
    ...(check.read_data === undefined ? [] : [`read back ${check.read_data} of the data`]),
    ...(check.spot === undefined ? [] : [`spot-check ${check.spot} files against the snapshot`]),
  ].join(", ");
  return [
    `check: ${what}${check.every === undefined ? " after every backup" : `, when the last is older than ${check.every}`}`,
  ];
}
