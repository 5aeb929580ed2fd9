import { closeSync, fchmodSync, fstatSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { errorMessage, SnapbackError } from "../errors.js";
import { checkLimit, isInProgress, pidStartTimeOf, reported } from "./liveness.js";
import {
  DEFAULT_RECENT_LIMIT,
  type HistoryStore,
  type RunRecord,
  type RunResult,
  type RunStart,
  type RunStatus,
  type AuditEntry,
  type RunMark,
  type RunPage,
  type StoredEvent,
} from "./store.js";

export const HISTORY_FILE = "history.sqlite";

/**
 * Schema migrations; `PRAGMA user_version` is the number applied. Append only: a released
 * migration is never edited.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE runs (
     seq            INTEGER PRIMARY KEY AUTOINCREMENT,
     run_id         TEXT NOT NULL UNIQUE,
     plan           TEXT NOT NULL,
     repositories   TEXT NOT NULL,
     status         TEXT NOT NULL,
     started_at     TEXT NOT NULL,
     ended_at       TEXT,
     pid            INTEGER NOT NULL,
     pid_start_time TEXT NOT NULL,
     snapshot_ids   TEXT NOT NULL DEFAULT '{}',
     summaries      TEXT NOT NULL DEFAULT '{}',
     warnings       TEXT NOT NULL DEFAULT '[]',
     error          TEXT,
     log_tail       TEXT NOT NULL DEFAULT '[]'
   );
   CREATE INDEX runs_by_plan ON runs (plan, started_at);
   CREATE INDEX runs_running ON runs (status) WHERE status = 'running';`,
  // Events of runs (snapback serve shows runs started anywhere live) and the audit trail.
  `CREATE TABLE run_events (
     seq    INTEGER PRIMARY KEY AUTOINCREMENT,
     run_id TEXT NOT NULL,
     plan   TEXT NOT NULL,
     type   TEXT NOT NULL,
     event  TEXT NOT NULL
   );
   CREATE INDEX run_events_by_run ON run_events (run_id, seq);
   CREATE TABLE audit (
     seq    INTEGER PRIMARY KEY AUTOINCREMENT,
     at     TEXT NOT NULL,
     user   TEXT NOT NULL,
     action TEXT NOT NULL,
     target TEXT NOT NULL,
     detail TEXT NOT NULL DEFAULT '{}'
   );`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

interface Row {
  run_id: string;
  plan: string;
  repositories: string;
  status: string;
  started_at: string;
  ended_at: string | null;
  pid: number;
  pid_start_time: string;
  snapshot_ids: string;
  summaries: string;
  warnings: string;
  error: string | null;
  log_tail: string;
}

const NEWEST_FIRST = "ORDER BY started_at DESC, seq DESC";

/**
 * History in `<state_dir>/history.sqlite` (mode 0600: it may name repositories and paths).
 * WAL mode, so `snapback status` reads while a backup writes, and several snapback processes
 * may hold it open at once; writers wait up to `busyTimeoutMs` for each other.
 */
export class SqliteHistoryStore implements HistoryStore {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly update: Database.Statement;

  constructor(path: string, options: { busyTimeoutMs?: number } = {}) {
    this.path = path;
    createPrivate(path);
    try {
      this.db = new Database(path, { timeout: options.busyTimeoutMs ?? 10_000 });
    } catch (e) {
      throw new SnapbackError(`cannot open run history ${path}: ${errorMessage(e)}`, { cause: e });
    }
    try {
      this.db.pragma("journal_mode = WAL");
      this.db.pragma("synchronous = NORMAL");
      this.migrate();
      this.insert = this.db.prepare(
        `INSERT INTO runs (run_id, plan, repositories, status, started_at, pid, pid_start_time)
         VALUES (?, ?, ?, 'running', ?, ?, ?)`,
      );
      this.update = this.db.prepare(
        `UPDATE runs SET status = ?, ended_at = ?, snapshot_ids = ?, summaries = ?, warnings = ?,
                         error = ?, log_tail = ?
         WHERE run_id = ?`,
      );
    } catch (e) {
      this.db.close();
      if (e instanceof SnapbackError) throw e;
      throw new SnapbackError(`cannot use run history ${path}: ${errorMessage(e)}`, { cause: e });
    }
  }

  startRun(run: RunStart): void {
    try {
      this.insert.run(
        run.runId,
        run.plan,
        JSON.stringify(run.repositories),
        run.startedAt.toISOString(),
        run.pid,
        pidStartTimeOf(run),
      );
    } catch (e) {
      if (e instanceof Database.SqliteError && e.code === "SQLITE_CONSTRAINT_UNIQUE") {
        throw new Error(`history: run ${run.runId} was already started`, { cause: e });
      }
      throw e;
    }
  }

  finishRun(runId: string, result: RunResult): void {
    const changed = this.update.run(
      result.status,
      result.endedAt.toISOString(),
      JSON.stringify(result.snapshotIds),
      JSON.stringify(result.summaries),
      JSON.stringify(result.warnings),
      result.error ?? null,
      JSON.stringify(result.logTail),
      runId,
    ).changes;
    if (changed === 0) throw new Error(`history: run ${runId} was never started`);
    // Progress is only interesting while the run lasts; the other events stay as its record.
    this.db.prepare(`DELETE FROM run_events WHERE run_id = ? AND type = 'progress'`).run(runId);
  }

  appendEvent(runId: string, plan: string, event: { type: string }): void {
    this.db
      .prepare(`INSERT INTO run_events (run_id, plan, type, event) VALUES (?, ?, ?, ?)`)
      .run(runId, plan, event.type, JSON.stringify(event));
  }

  eventsAfter(seq: number, limit = 1000): StoredEvent[] {
    const rows = this.db
      .prepare(`SELECT * FROM run_events WHERE seq > ? ORDER BY seq LIMIT ?`)
      .all(seq, checkLimit(limit)) as EventRow[];
    return rows.map(toEvent);
  }

  runEvents(runId: string, limit = 1000): StoredEvent[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM (SELECT * FROM run_events WHERE run_id = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq`,
      )
      .all(runId, checkLimit(limit)) as EventRow[];
    return rows.map(toEvent);
  }

  lastEventSeq(): number {
    const row = this.db.prepare(`SELECT max(seq) AS seq FROM run_events`).get() as {
      seq: number | null;
    };
    return row.seq ?? 0;
  }

  get(runId: string): RunRecord | undefined {
    const row = this.db.prepare(`SELECT * FROM runs WHERE run_id = ?`).get(runId) as
      Row | undefined;
    return row && reported(toRecord(row));
  }

  page(query: RunPage): RunRecord[] {
    checkLimit(query.limit);
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.plan !== undefined) {
      where.push("plan = ?");
      params.push(query.plan);
    }
    if (query.status !== undefined) {
      // A run whose process died without a result is stored as running, reported interrupted.
      where.push(
        query.status === "interrupted" ? "status IN ('interrupted', 'running')" : "status = ?",
      );
      if (query.status !== "interrupted") params.push(query.status);
    }
    if (query.before !== undefined) {
      const cursor = this.db
        .prepare(`SELECT started_at, seq FROM runs WHERE run_id = ?`)
        .get(query.before) as { started_at: string; seq: number } | undefined;
      if (cursor === undefined) return [];
      where.push("(started_at < ? OR (started_at = ? AND seq < ?))");
      params.push(cursor.started_at, cursor.started_at, cursor.seq);
    }
    const sql = `SELECT * FROM runs ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ${NEWEST_FIRST} LIMIT ?`;
    const rows = this.db.prepare(sql).all(...params, query.limit) as Row[];
    return rows
      .map((r) => reported(toRecord(r)))
      .filter((r) => query.status === undefined || r.status === query.status);
  }

  marksSince(since: string): RunMark[] {
    const rows = this.db
      .prepare(`SELECT * FROM runs WHERE started_at >= ? ORDER BY started_at`)
      .all(since) as Row[];
    return rows.map((r) => {
      const rec = reported(toRecord(r));
      return { plan: rec.plan, startedAt: rec.startedAt, status: rec.status };
    });
  }

  addAudit(entry: Omit<AuditEntry, "seq">): void {
    this.db
      .prepare(`INSERT INTO audit (at, user, action, target, detail) VALUES (?, ?, ?, ?, ?)`)
      .run(entry.at, entry.user, entry.action, entry.target, JSON.stringify(entry.detail));
  }

  audit(limit = DEFAULT_RECENT_LIMIT): AuditEntry[] {
    const rows = this.db
      .prepare(`SELECT * FROM audit ORDER BY seq DESC LIMIT ?`)
      .all(checkLimit(limit)) as (Omit<AuditEntry, "detail"> & { detail: string })[];
    return rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> }));
  }

  latestPerPlan(): RunRecord[] {
    const live = this.runsInProgress().map((r) => r.runId);
    const rows = this.db
      .prepare(
        `SELECT * FROM (
           SELECT *, row_number() OVER (PARTITION BY plan ${NEWEST_FIRST}) AS n
           FROM runs WHERE run_id NOT IN (SELECT value FROM json_each(?))
         ) WHERE n = 1 ORDER BY plan`,
      )
      .all(JSON.stringify(live)) as Row[];
    return rows.map((r) => reported(toRecord(r)));
  }

  runsInProgress(): RunRecord[] {
    const rows = this.db
      .prepare(`SELECT * FROM runs WHERE status = 'running' ${NEWEST_FIRST}`)
      .all() as Row[];
    return rows.map(toRecord).filter((r) => isInProgress(r));
  }

  recent(plan?: string, limit = DEFAULT_RECENT_LIMIT): RunRecord[] {
    checkLimit(limit);
    const rows = (
      plan === undefined
        ? this.db.prepare(`SELECT * FROM runs ${NEWEST_FIRST} LIMIT ?`).all(limit)
        : this.db
            .prepare(`SELECT * FROM runs WHERE plan = ? ${NEWEST_FIRST} LIMIT ?`)
            .all(plan, limit)
    ) as Row[];
    return rows.map((r) => reported(toRecord(r)));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  private migrate(): void {
    const version = (): number => this.db.pragma("user_version", { simple: true }) as number;
    if (version() === SCHEMA_VERSION) return;
    // IMMEDIATE: two processes opening a new file at once must not both create the tables.
    this.db
      .transaction(() => {
        const from = version();
        if (from > SCHEMA_VERSION) {
          throw new SnapbackError(
            `run history ${this.path} has schema version ${from}; this snapback knows up to ${SCHEMA_VERSION}`,
            {
              hint: "use the newer snapback that wrote it, or move the file away to start a new history",
            },
          );
        }
        for (let v = from; v < SCHEMA_VERSION; v++) this.db.exec(MIGRATIONS[v] ?? "");
        this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
      })
      .immediate();
  }
}

/** Creates the directory and an empty 0600 file before SQLite does (it would use 0644). */
function createPrivate(path: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const fd = openSync(path, "a", 0o600);
    try {
      if ((fstatSync(fd).mode & 0o077) !== 0) fchmodSync(fd, 0o600);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? errorMessage(e);
    throw new SnapbackError(`cannot create run history ${path}: ${code}`, { cause: e });
  }
}

interface EventRow {
  seq: number;
  run_id: string;
  plan: string;
  type: string;
  event: string;
}

function toEvent(row: EventRow): StoredEvent {
  return {
    seq: row.seq,
    runId: row.run_id,
    plan: row.plan,
    event: JSON.parse(row.event) as StoredEvent["event"],
  };
}

function toRecord(row: Row): RunRecord {
  return {
    runId: row.run_id,
    plan: row.plan,
    repositories: JSON.parse(row.repositories) as string[],
    status: row.status as RunStatus,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    pid: row.pid,
    pidStartTime: row.pid_start_time,
    snapshotIds: JSON.parse(row.snapshot_ids) as RunRecord["snapshotIds"],
    summaries: JSON.parse(row.summaries) as RunRecord["summaries"],
    warnings: JSON.parse(row.warnings) as string[],
    error: row.error,
    logTail: JSON.parse(row.log_tail) as string[],
  };
}
