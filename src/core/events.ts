/**
 * What a run reports. With --json each event is one line on stdout; otherwise the terminal
 * reporter renders them. Field names follow the contract (snake_case).
 */
export type RunStatus = "success" | "partial" | "failed" | "interrupted";

export interface SummaryEvent {
  type: "summary";
  plan: string;
  repository: string;
  snapshot_id: string;
  files_new: number;
  files_changed: number;
  files_unmodified: number;
  dirs_new: number;
  dirs_changed: number;
  dirs_unmodified: number;
  data_blobs: number;
  /** Optional: engines other than restic have no such count. */
  tree_blobs?: number;
  data_added: number;
  total_files_processed: number;
  total_bytes_processed: number;
  error_count: number;
  duration_s: number;
  /**
   * Replication targets (btrfs, zfs) only: each source snapshot sent, `parent` null for a full
   * send. They count no files: the file, directory and data counts above are 0 for them, and
   * `total_files_processed` is the number of sources sent.
   */
  replicated?: { source: string; received: string; parent: string | null; duration_s: number }[];
}

export interface ResultEvent {
  type: "result";
  plan: string;
  run_id: string;
  status: RunStatus;
  snapshot_ids: Record<string, string>;
  /** Milliseconds between the first and the last snapshot of the run. */
  snapshot_skew_ms: number | null;
  atomic_groups: { kind: string; sources: string[] }[];
  nested: string[];
  /** Sources backed up live (no snapshot): not point-in-time. */
  not_point_in_time: string[];
  warnings: string[];
  failed_repositories: Record<string, string>;
  /** Each restic repository's binary: version and the features snapback turned on. */
  engines?: Record<string, { engine: string; version: string; features: string[] }>;
  error?: string;
  duration_s: number;
  /** Retention applied after the backup (plans with a retention table). Its failure never fails the run. */
  retention?: RetentionOutcome;
  /** The plan's scheduled check ([plans.X.check]) when it was due. Its failure never fails the run. */
  check?: ScheduledCheckOutcome;
}

export interface RetentionOutcome {
  /** Backups of the plan (this host) removed / kept, over all repositories. */
  removed: number;
  kept: number;
  /** Whether restic prune ran. */
  pruned: boolean;
  /** Why prune waits although backups were removed (`prune_every`). */
  prune_deferred?: string;
  /** Local filesystem snapshots (restore points) removed / kept. */
  local_removed: number;
  local_kept: number;
  error?: string;
}

export interface ScheduledCheckOutcome {
  ok: boolean;
  read_data?: string;
  spot?: number;
  /** Spot-checked files that differ from the snapshot. */
  mismatches: number;
  error?: string;
}

/** What a run reports about each database dump (one per database and repository). */
export interface DatabaseSummaryEvent {
  type: "database_summary";
  plan: string;
  repository: string;
  database: string;
  db_type: string;
  snapshot_id: string;
  /** The path the dump is stored under in the snapshot. */
  path: string;
  /** Bytes of the dump. */
  bytes: number;
  data_added: number;
  duration_s: number;
}

export type RunEvent =
  | { type: "start"; plan: string; run_id: string; sources: string[]; repositories: string[] }
  | { type: "reclaimed"; what: string; run_id: string }
  | {
      type: "snapshots";
      plan: string;
      skew_ms: number;
      took_ms: number;
      groups: { kind: string; sources: string[]; atomic: boolean; names: string[] }[];
    }
  | { type: "backup_start"; plan: string; repository: string }
  /** The steps after the engines (what a progress display shows as the current phase). */
  | { type: "phase"; plan: string; phase: "retention" | "check" }
  | {
      type: "progress";
      plan: string;
      repository: string;
      percent_done: number;
      files_done: number;
      total_files: number;
      bytes_done: number;
      total_bytes: number;
      seconds_elapsed: number;
      seconds_remaining: number | null;
      /** Files being read right now (restic's current_files); on the bus only with [dbus] broadcast_file_names. */
      current_files?: string[];
    }
  | { type: "warning"; plan: string; repository?: string; message: string }
  | {
      type: "error";
      plan: string;
      repository?: string;
      message: string;
      /** Set when this error alone decides the plan's exit code (e.g. 4: locked by another run). */
      exit_code?: number;
    }
  | SummaryEvent
  | DatabaseSummaryEvent
  | ResultEvent;

export type EventSink = (event: RunEvent) => void;
