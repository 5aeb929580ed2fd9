/**
 * Run history: one record per run of a plan, written when the run starts and completed when it
 * ends. `snapback status` reads it; every run writes it.
 */

export type RunOutcome = "success" | "partial" | "failed" | "interrupted";
export type RunStatus = "running" | RunOutcome;

/** Figures of one repository's backup (the `summary` event's numbers). */
export interface RunSummaryFigures {
  filesNew: number;
  filesChanged: number;
  filesUnmodified: number;
  dataAdded: number;
  durationS: number;
  totalFilesProcessed?: number;
  totalBytesProcessed?: number;
  /** Files that could not be read (status "partial"). */
  errorCount?: number;
}

export interface RunStart {
  runId: string;
  plan: string;
  repositories: string[];
  startedAt: Date;
  pid: number;
  /** Kernel start time of `pid` (src/util/proc.ts); read from /proc when omitted. */
  pidStartTime?: string;
}

export interface RunResult {
  status: RunOutcome;
  endedAt: Date;
  /** Repository name → snapshot id. */
  snapshotIds: Record<string, string>;
  /** Repository name → figures. */
  summaries: Record<string, RunSummaryFigures>;
  warnings: string[];
  error?: string;
  /** The last log lines of the run, for `status` after a failure. */
  logTail: string[];
}

/** A run as stored: plain JSON, dates as ISO 8601 strings. */
export interface RunRecord {
  runId: string;
  plan: string;
  repositories: string[];
  /**
   * "running" only while the run's process is alive. A record left "running" by a process
   * that is gone (SIGKILL, power loss) is reported as "interrupted" with `endedAt` null.
   */
  status: RunStatus;
  startedAt: string;
  endedAt: string | null;
  pid: number;
  pidStartTime: string;
  snapshotIds: Record<string, string>;
  summaries: Record<string, RunSummaryFigures>;
  warnings: string[];
  error: string | null;
  logTail: string[];
}

/**
 * Where runs are recorded.
 *
 * SECRETS: a store keeps exactly the text it is given (warnings, error, logTail) and never
 * redacts. Callers must pass text that is already redacted (`redactText` in
 * src/config/secrets.ts with the run's resolved secrets): the history file outlives the run
 * and is read by `snapback status --json`.
 */
export interface HistoryStore extends Disposable {
  /** Records a run as "running". A runId can be started once. */
  startRun(run: RunStart): void;
  /** Completes a started run; throws if `runId` was never started. */
  finishRun(runId: string, result: RunResult): void;
  /**
   * The latest result of every plan, sorted by plan name: per plan the most recently started
   * run that is not in progress (finished, or "interrupted" because its process is gone).
   * A plan whose only runs are in progress is absent; see `runsInProgress`.
   */
  latestPerPlan(): RunRecord[];
  /** Runs recorded as "running" whose process (pid and start time) is still alive, newest first. */
  runsInProgress(): RunRecord[];
  /** Runs newest first, of one plan or all; `limit` defaults to 20. */
  recent(plan?: string, limit?: number): RunRecord[];
  /** One run, or undefined. */
  get(runId: string): RunRecord | undefined;
  /** Runs newest first, `limit` of them, of one plan or all, older than run `before`. */
  page(query: RunPage): RunRecord[];
  /** Start time and status of every run since `since` (ISO 8601): the dashboard's day strip. */
  marksSince(since: string): RunMark[];
  /**
   * Records an event of a run (the `--json` events of `backup`), so that other processes
   * (`snapback serve`) see runs live. Callers throttle progress (~1/s). Text must be redacted.
   */
  appendEvent(runId: string, plan: string, event: { type: string }): void;
  /** Events with a sequence number above `seq`, oldest first. */
  eventsAfter(seq: number, limit?: number): StoredEvent[];
  /** The newest `limit` events of one run, oldest first. */
  runEvents(runId: string, limit?: number): StoredEvent[];
  lastEventSeq(): number;
  /** Who changed what through the service. */
  addAudit(entry: Omit<AuditEntry, "seq">): void;
  audit(limit?: number): AuditEntry[];
  close(): void;
}

export interface RunMark {
  plan: string;
  startedAt: string;
  status: RunStatus;
}

export interface RunPage {
  plan?: string | undefined;
  /** Only runs that ended (or are) in this state. */
  status?: RunStatus | undefined;
  limit: number;
  /** A run id: only runs older than it (the cursor of the previous page). */
  before?: string | undefined;
}

export interface StoredEvent {
  seq: number;
  runId: string;
  plan: string;
  event: { type: string } & Record<string, unknown>;
}

export interface AuditEntry {
  seq: number;
  /** ISO 8601. */
  at: string;
  user: string;
  /** "backup", "cancel", "restore", "prune", "check", "login", ... */
  action: string;
  /** The plan or run acted on. */
  target: string;
  detail: Record<string, unknown>;
}

export const DEFAULT_RECENT_LIMIT = 20;
