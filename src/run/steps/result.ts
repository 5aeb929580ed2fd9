import { errorMessage, EXIT } from "../../errors.js";
import type { ResultEvent, RunStatus } from "../../core/events.js";
import { engineReports } from "../engine-report.js";
import { firstCause, reportResult } from "../finish.js";
import { hookLines } from "./before-hooks.js";
import { round } from "./snapshots.js";
import type { Started } from "./start.js";
import type { AppliedRun, RunState, RunStep } from "./types.js";

/**
 * The end of every run that started, whatever happened: the status, the success/failure and
 * finally hooks, the result event, the history record, the notifications and the metrics.
 */
export const result: RunStep<RunState & Started, { applied: AppliedRun }> = {
  name: "result",
  async run(ctx) {
    const { p, signal, record, hooks, facts, emit } = ctx;
    const { summaries, failed, taken } = record;
    let status: RunStatus = signal.aborted
      ? "interrupted"
      : record.fatal !== undefined || Object.keys(failed).length > 0
        ? "failed"
        : summaries.some((s) => s.error_count > 0)
          ? "partial"
          : "success";
    // The first cause reaches hooks, history and notifications as it is ("wrong password", not
    // "no repository could be opened").
    let cause = firstCause({ signal, fatal: record.fatal, failedRepositories: failed });
    try {
      await hooks.finish({
        ...facts,
        status,
        summaries,
        ...(cause === undefined ? {} : { error: cause }),
      });
    } catch (e) {
      // A success/failure/finally hook with on_error = "fail" fails the run it reports on.
      cause ??= errorMessage(e);
      if (status !== "interrupted") status = "failed";
      emit({ type: "error", plan: p.planName, message: errorMessage(e) });
    }
    const event: ResultEvent = {
      type: "result",
      plan: p.planName,
      run_id: p.runId,
      status,
      snapshot_ids: Object.fromEntries(summaries.map((s) => [s.repository, s.snapshot_id])),
      snapshot_skew_ms: record.skewMs,
      atomic_groups: taken
        .filter((t) => t.plan.kind !== "none")
        .map((t) => ({ kind: t.plan.kind, sources: t.plan.sources })),
      nested: taken.flatMap((t) => t.plan.nested),
      not_point_in_time: p.notPointInTime,
      warnings: record.warnings,
      failed_repositories: failed,
      engines: await engineReports(ctx.engines),
      ...(cause === undefined ? {} : { error: cause }),
      duration_s: round((performance.now() - ctx.started) / 1000),
      ...record.afterBackup,
    };
    await reportResult(ctx, event, summaries, ctx.tail);
    return {
      applied: {
        result: event,
        exitCode: exitCodeFor(status, record.failedCodes, summaries.length > 0),
      },
    };
  },
  describe: ({ p }) =>
    hookLines(p.plan.hooks.filter((h) => h.when !== "before" && h.when !== "after_snapshot")),
};

function exitCodeFor(status: RunStatus, failedCodes: number[], somethingBackedUp: boolean): number {
  switch (status) {
    case "success":
      return EXIT.ok;
    case "partial":
      return EXIT.partial;
    case "interrupted":
      return EXIT.interrupted;
    case "failed":
      // A repository that failed for a config reason (wrong password, missing) or a lock keeps
      // its own code; anything else is a plain failure. Exit 2 and 4 promise that nothing was
      // touched: once a repository got its backup, the run as a whole simply failed.
      if (somethingBackedUp) return EXIT.failed;
      if (failedCodes.length > 0 && failedCodes.every((c) => c === failedCodes[0]))
        return failedCodes[0] ?? EXIT.failed;
      return EXIT.failed;
  }
}
