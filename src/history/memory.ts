import { checkLimit, isInProgress, pidStartTimeOf, reported } from "./liveness.js";
import {
  DEFAULT_RECENT_LIMIT,
  type HistoryStore,
  type RunRecord,
  type RunResult,
  type RunStart,
} from "./store.js";

/**
 * History kept in memory (tests, `--dry-run`). Records are copied through JSON on the way in
 * and out, so it behaves exactly like the SQLite store: callers can neither alias nor mutate
 * what is stored.
 */
export class MemoryHistoryStore implements HistoryStore {
  /** Insertion order breaks ties between runs started at the same instant. */
  private readonly runs = new Map<string, RunRecord>();
  private closed = false;

  startRun(run: RunStart): void {
    this.assertOpen();
    if (this.runs.has(run.runId)) throw new Error(`history: run ${run.runId} was already started`);
    this.runs.set(
      run.runId,
      copy({
        runId: run.runId,
        plan: run.plan,
        repositories: run.repositories,
        status: "running",
        startedAt: run.startedAt.toISOString(),
        endedAt: null,
        pid: run.pid,
        pidStartTime: pidStartTimeOf(run),
        snapshotIds: {},
        summaries: {},
        warnings: [],
        error: null,
        logTail: [],
      }),
    );
  }

  finishRun(runId: string, result: RunResult): void {
    this.assertOpen();
    const run = this.runs.get(runId);
    if (!run) throw new Error(`history: run ${runId} was never started`);
    this.runs.set(
      runId,
      copy({
        ...run,
        status: result.status,
        endedAt: result.endedAt.toISOString(),
        snapshotIds: result.snapshotIds,
        summaries: result.summaries,
        warnings: result.warnings,
        error: result.error ?? null,
        logTail: result.logTail,
      }),
    );
  }

  latestPerPlan(): RunRecord[] {
    const latest = new Map<string, RunRecord>();
    for (const run of this.newestFirst()) {
      if (!latest.has(run.plan) && !isInProgress(run)) latest.set(run.plan, run);
    }
    return [...latest.values()]
      .sort((a, b) => (a.plan < b.plan ? -1 : a.plan > b.plan ? 1 : 0))
      .map((r) => copy(reported(r)));
  }

  runsInProgress(): RunRecord[] {
    return this.newestFirst()
      .filter((r) => isInProgress(r))
      .map(copy);
  }

  recent(plan?: string, limit = DEFAULT_RECENT_LIMIT): RunRecord[] {
    checkLimit(limit);
    return this.newestFirst()
      .filter((r) => plan === undefined || r.plan === plan)
      .slice(0, limit)
      .map((r) => copy(reported(r)));
  }

  /** Like the SQLite store, a closed store refuses every further call. */
  close(): void {
    this.closed = true;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("history: the store is closed");
  }

  private newestFirst(): RunRecord[] {
    this.assertOpen();
    const all = [...this.runs.values()].map((r, i) => ({ r, i }));
    all.sort((a, b) =>
      a.r.startedAt < b.r.startedAt ? 1 : a.r.startedAt > b.r.startedAt ? -1 : b.i - a.i,
    );
    return all.map(({ r }) => r);
  }
}

function copy(record: RunRecord): RunRecord {
  return JSON.parse(JSON.stringify(record)) as RunRecord;
}
