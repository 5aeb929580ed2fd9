import type { Config } from "../../config/schema.js";
import type { RepositoryEngine } from "../../engine/types.js";
import type { HistoryStore } from "../../history/store.js";
import type { NotifyChannel } from "../../notify/index.js";
import type { TakenSnapshot } from "../../core/snapshot.js";
import type { DeferStack } from "../../core/defer.js";
import type {
  EventSink,
  ResultEvent,
  RetentionOutcome,
  ScheduledCheckOutcome,
  SummaryEvent,
} from "../../core/events.js";
import type { LogTail } from "../log-tail.js";
import type { RunPlan } from "../../core/plan.js";
import type { DryRun } from "./preview.js";

/** Where a step leaves its undo: run in reverse when the run (or its body) ends, whatever happened. */
export type Unwind = Pick<DeferStack, "defer">;

/**
 * One step of a run. `Needs` is what it reads of the run context, `Adds` what it puts there for
 * the steps after it (merged in once it returns); what it creates it undoes through `unwind`.
 * `describe` says what it would do, for `backup --dry-run`.
 */
export interface RunStep<Needs extends object, Adds extends object> {
  readonly name: string;
  readonly run: (ctx: Needs, unwind: Unwind) => Promise<Adds>;
  readonly describe?: (preview: StepPreview) => string[];
}

/** What `--dry-run` knows: the plan, its config and the read-only preview (no secret read). */
export interface StepPreview {
  config: Config;
  p: RunPlan;
  dry: DryRun;
}

/** The exit code that goes with a finished plan (errors.ts `EXIT`). */
export interface AppliedRun {
  result: ResultEvent;
  exitCode: number;
}

/**
 * What the result reports, filled in as the steps go: unlike a step's `Adds`, whatever is here
 * when a step fails halfway (the first of two snapshots, one of two backups) is still reported.
 */
export interface RunRecord {
  warnings: string[];
  /** Repository → why it failed (opening, backup or dump). */
  failed: Record<string, string>;
  /** The exit codes of every failure, for the run's own (exitCodeFor). */
  failedCodes: number[];
  summaries: SummaryEvent[];
  taken: TakenSnapshot[];
  skewMs: number | null;
  /** The error that ended the body of the run early. */
  fatal?: string;
  afterBackup: AfterBackup;
  /** A cleanup step failed: the journal stays for the next run or `snapback cleanup`. */
  unwindFailed: boolean;
}

/** What the result event reports of the steps after the backup. */
export interface AfterBackup {
  retention?: RetentionOutcome;
  check?: ScheduledCheckOutcome;
}

/** The run context every step starts from. */
export interface RunState {
  readonly p: RunPlan;
  readonly engines: RepositoryEngine[];
  /** The caller's sink, through the log tail. */
  readonly emit: EventSink;
  /** Aborted on SIGINT/SIGTERM: the engine gets SIGINT, then everything unwinds. */
  readonly signal: AbortSignal;
  readonly lockWaitMs: number;
  readonly history?: HistoryStore;
  readonly notify: readonly NotifyChannel[];
  readonly metricsPath?: string;
  readonly tail: LogTail;
  /** performance.now() and the wall clock at the start of applyRun. */
  readonly started: number;
  readonly startedAt: Date;
  readonly record: RunRecord;
  /** A warning event, and a line of the result's `warnings`. */
  readonly warn: (message: string, repository?: string) => void;
  /** A repository failed (to open, back up or dump): reported, and the run goes on without it. */
  readonly recordFailure: (repository: string, error: unknown) => void;
}

/** Any step, as a pipeline holds it. */
export type AnyStep = RunStep<never, object>;
