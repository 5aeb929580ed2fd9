import { checkLimit, isInProgress, pidStartTimeOf, reported } from "./liveness.js";
import {
  DEFAULT_RECENT_LIMIT,
  type HistoryStore,
  type RunRecord,
  type RunResult,
  type RunStart,
  type AuditEntry,
  type RunMark,
  type RunPage,
  type StoredEvent,
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
  private events: StoredEvent[] = [];
  private audits: AuditEntry[] = [];

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
    this.events = this.events.filter((e) => e.runId !== runId || e.event.type !== "progress");
  }

  appendEvent(runId: string, plan: string, event: { type: string }): void {
    this.assertOpen();
    const seq = (this.events.at(-1)?.seq ?? 0) + 1;
    this.events.push(JSON.parse(JSON.stringify({ seq, runId, plan, event })) as StoredEvent);
  }

  eventsAfter(seq: number, limit = 1000): StoredEvent[] {
    this.assertOpen();
    return this.events
      .filter((e) => e.seq > seq)
      .slice(0, checkLimit(limit))
      .map(copyOf);
  }

  runEvents(runId: string, limit = 1000): StoredEvent[] {
    this.assertOpen();
    return this.events
      .filter((e) => e.runId === runId)
      .slice(-checkLimit(limit))
      .map(copyOf);
  }

  lastEventSeq(): number {
    this.assertOpen();
    return this.events.at(-1)?.seq ?? 0;
  }

  get(runId: string): RunRecord | undefined {
    this.assertOpen();
    const r = this.runs.get(runId);
    return r && copy(reported(r));
  }

  page(query: RunPage): RunRecord[] {
    checkLimit(query.limit);
    let all = this.newestFirst().filter(
      (r) =>
        (query.plan === undefined || r.plan === query.plan) &&
        (query.status === undefined || reported(r).status === query.status),
    );
    if (query.before !== undefined) {
      const i = all.findIndex((r) => r.runId === query.before);
      all = i < 0 ? [] : all.slice(i + 1);
    }
    return all.slice(0, query.limit).map((r) => copy(reported(r)));
  }

  marksSince(since: string): RunMark[] {
    return this.newestFirst()
      .reverse()
      .filter((r) => r.startedAt >= since)
      .map((r) => {
        const rec = reported(r);
        return { plan: rec.plan, startedAt: rec.startedAt, status: rec.status };
      });
  }

  addAudit(entry: Omit<AuditEntry, "seq">): void {
    this.assertOpen();
    this.audits.push(copyOf({ ...entry, seq: this.audits.length + 1 }));
  }

  audit(limit = DEFAULT_RECENT_LIMIT): AuditEntry[] {
    this.assertOpen();
    return this.audits.slice(-checkLimit(limit)).reverse().map(copyOf);
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

function copyOf<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function copy(record: RunRecord): RunRecord {
  return JSON.parse(JSON.stringify(record)) as RunRecord;
}
