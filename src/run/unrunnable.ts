import type { Plan } from "../config/schema.js";
import { errorMessage, SnapbackError } from "../errors.js";
import { HookRunner } from "../hooks/index.js";
import { log } from "../log.js";
import type { AppliedRun } from "./steps/types.js";
import type { ResultEvent } from "../core/events.js";
import { reportResult, type FinishContext } from "./finish.js";
import { LogTail } from "./log-tail.js";

/**
 * A plan that cannot run here (a missing source, a missing or world-readable password file, a
 * password command that fails, …) is a failed run of that plan, like any other: it is in the
 * history (`status` must not keep showing the last success), its failure and finally hooks
 * fire with the reason in $SNAPBACK_ERROR, and its channels are told. Nothing was created, so
 * there is nothing to lock or unwind; no `start` is emitted or sent since nothing started.
 */
export async function failUnrunnablePlan(
  run: { planName: string; plan: Plan; runId: string; error: unknown },
  outer: FinishContext,
): Promise<AppliedRun> {
  const startedAt = new Date();
  const started = performance.now();
  const tail = new LogTail();
  const ctx: FinishContext = { ...outer, emit: (e) => (tail.record(e), outer.emit(e)) };
  const { planName, plan, runId } = run;
  const cause = errorMessage(run.error);
  const hint = run.error instanceof SnapbackError ? run.error.hint : undefined;
  const warnings: string[] = [];

  ctx.emit({
    type: "error",
    plan: planName,
    message: hint === undefined ? cause : `${cause} (${hint})`,
  });
  ctx.history?.startRun({
    runId,
    plan: planName,
    repositories: plan.repositories,
    startedAt,
    pid: process.pid,
  });
  const hooks = new HookRunner(planName, plan.hooks, {
    onOutput: (line, info) => log.verbose(`hook ${info.name}: ${line}`),
    onWarning: (m) => {
      warnings.push(m);
      ctx.emit({ type: "warning", plan: planName, message: m });
    },
  });
  try {
    await hooks.finish({
      runId,
      sources: plan.sources,
      repositories: plan.repositories,
      status: "failed",
      summaries: [],
      error: cause,
    });
  } catch (e) {
    ctx.emit({ type: "error", plan: planName, message: errorMessage(e) });
  }
  const result: ResultEvent = {
    type: "result",
    plan: planName,
    run_id: runId,
    status: "failed",
    snapshot_ids: {},
    snapshot_skew_ms: null,
    atomic_groups: [],
    nested: [],
    not_point_in_time: [],
    warnings,
    failed_repositories: {},
    error: cause,
    duration_s: Math.round(performance.now() - started) / 1000,
  };
  await reportResult(ctx, result, [], tail);
  return { result, exitCode: run.error instanceof SnapbackError ? run.error.exitCode : 1 };
}
