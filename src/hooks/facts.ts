import type { HookWhen } from "../config/hooks.js";

/** Same values as the run's result status (src/core/events.ts RunStatus). */
export type HookRunStatus = "success" | "partial" | "failed" | "interrupted";

/**
 * One repository's backup summary. The run's SummaryEvent fits as is (extra fields are
 * ignored), so the lead can pass its summary events straight through.
 */
export interface HookRepositoryResult {
  repository: string;
  snapshot_id: string;
  files_new: number;
  files_changed: number;
  files_unmodified: number;
  data_added: number;
  error_count?: number;
  duration_s?: number;
}

/** What a hook is told about the run; later points know more. */
export interface RunFacts {
  runId: string;
  /** The plan's original source paths. */
  sources: readonly string[];
  repositories?: readonly string[];
  /** Known at success/failure/finally. */
  status?: HookRunStatus;
  /** Repository → backup id; derived from `summaries` when not given. */
  snapshotIds?: Readonly<Record<string, string>>;
  summaries?: readonly HookRepositoryResult[];
  /** Why the run failed (a message meant for users: never a secret). */
  error?: string;
}

export type { HookWhen };
