import { errorMessage, SnapbackError } from "../errors.js";
import type { RepositoryEngine } from "../engine/types.js";
import type { HistoryStore } from "../history/store.js";
import type { NotifyChannel } from "../notify/index.js";
import { DeferStack } from "../core/defer.js";
import type { EventSink } from "../core/events.js";
import { LogTail } from "./log-tail.js";
import type { RunPlan } from "../core/plan.js";
import { backup } from "./steps/backup.js";
import { beforeHooks } from "./steps/before-hooks.js";
import { Steps } from "./steps/compose.js";
import { dumps } from "./steps/dumps.js";
import { eachRepository } from "./steps/each-repository.js";
import { lock } from "./steps/lock.js";
import { NoRepositoryError, openRepositories } from "./steps/open-repositories.js";
import { result } from "./steps/result.js";
import { retention } from "./steps/retention.js";
import { scheduledCheck } from "./steps/scheduled-check.js";
import { releaseSnapshots, snapshots } from "./steps/snapshots.js";
import { start, type Started } from "./steps/start.js";
import { tempDir } from "./steps/temp-dir.js";
import type { AnyStep, AppliedRun, RunRecord, RunState } from "./steps/types.js";
import { view } from "./steps/view.js";

export type { AppliedRun } from "./steps/types.js";

/**
 * A run, step by step. Three stages, because a failure means something different in each:
 * - BEGIN: before the run exists. A failure is thrown (a plan locked by a live run: exit 4);
 *   the locks are held until the run has reported.
 * - BODY: the work. A failure ends it and is the run's error; whatever the steps made is
 *   unwound in reverse before the result (what they left in `record` is still reported).
 * - END: the result, always.
 */
const BEGIN = Steps.from<RunState>().then(lock).then(start);

const BODY = Steps.from<RunState & Started>()
  .then(tempDir)
  .then(openRepositories)
  .then(beforeHooks)
  .then(snapshots)
  .then(view)
  .then(eachRepository(backup, dumps))
  .then(releaseSnapshots)
  .then(retention)
  .then(scheduledCheck);

const END = Steps.from<RunState & Started>().then(result);

/** Every step in the order a run takes them (for `backup --dry-run`). */
export const RUN_STEPS: readonly AnyStep[] = [...BEGIN.list, ...BODY.list, ...END.list];

export interface ApplyContext {
  engines: RepositoryEngine[];
  emit: EventSink;
  /** Where the run is recorded for `snapback status`; optional for library callers. */
  history?: HistoryStore;
  /** Channels told about the start and the end of the run (never fail it). */
  notify?: readonly NotifyChannel[];
  /** Prometheus textfile rewritten after the run. */
  metricsPath?: string;
  /** Aborted on SIGINT/SIGTERM: the engine gets SIGINT, then everything unwinds. */
  signal: AbortSignal;
  /** How long to wait for a running backup of the same plan (`backup --wait`); default 0: exit 4. */
  lockWaitMs?: number;
}

/** Carries out a RunPlan: BEGIN, BODY, END (above). */
export async function applyRun(p: RunPlan, outer: ApplyContext): Promise<AppliedRun> {
  const state = runState(p, outer);
  // Released last, after the result; a failure to release is thrown like any other.
  let releaseError: { error: unknown } | undefined;
  const held = new DeferStack((_what, error) => (releaseError ??= { error }));
  let applied: AppliedRun;
  try {
    const begun = await BEGIN.run(state, held);
    await runBody(begun);
    applied = (await END.run(begun, held)).applied;
  } finally {
    await held[Symbol.asyncDispose]();
  }
  if (releaseError) throw releaseError.error;
  return applied;
}

async function runBody(ctx: RunState & Started): Promise<void> {
  const { p, record, signal, emit } = ctx;
  {
    await using unwind = new DeferStack((what, e) => {
      record.unwindFailed = true;
      ctx.warn(
        `cleanup: ${what} failed: ${errorMessage(e)} (the next run or 'snapback cleanup' retries)`,
      );
    });
    try {
      await BODY.run(ctx, unwind);
    } catch (e) {
      // Repositories that failed to open already reported their own errors and codes.
      if (!signal.aborted && !(e instanceof NoRepositoryError)) {
        record.fatal = errorMessage(e);
        emit({ type: "error", plan: p.planName, message: record.fatal });
        record.failedCodes.push(e instanceof SnapbackError ? e.exitCode : 1);
      }
    }
  }
  if (!record.unwindFailed) await ctx.journal.remove();
}

function runState(p: RunPlan, outer: ApplyContext): RunState {
  const tail = new LogTail();
  const emit: EventSink = (e) => (tail.record(e), outer.emit(e));
  const record: RunRecord = {
    warnings: [...p.warnings],
    failed: {},
    failedCodes: [],
    summaries: [],
    taken: [],
    skewMs: null,
    afterBackup: {},
    unwindFailed: false,
  };
  return {
    p,
    engines: outer.engines,
    emit,
    signal: outer.signal,
    lockWaitMs: outer.lockWaitMs ?? 0,
    ...(outer.history === undefined ? {} : { history: outer.history }),
    notify: outer.notify ?? [],
    ...(outer.metricsPath === undefined ? {} : { metricsPath: outer.metricsPath }),
    tail,
    started: performance.now(),
    startedAt: new Date(),
    record,
    warn: (message, repository) => {
      record.warnings.push(repository ? `${repository}: ${message}` : message);
      emit({ type: "warning", plan: p.planName, ...(repository ? { repository } : {}), message });
    },
    recordFailure: (repository, e) => {
      const hint = e instanceof SnapbackError && e.hint ? ` (${e.hint})` : "";
      const message = errorMessage(e) + hint;
      record.failed[repository] = message;
      record.failedCodes.push(e instanceof SnapbackError ? e.exitCode : 1);
      emit({ type: "error", plan: p.planName, repository, message });
    },
  };
}
