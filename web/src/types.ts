/**
 * The API's shapes as the browser sees them (src/serve/api.ts holds the zod schemas the server
 * validates and documents them with; these mirror them for a bundle that must not carry zod).
 */
export type Status = "queued" | "running" | "success" | "partial" | "failed" | "interrupted";

export interface Me {
  name: string;
  role: "admin" | "viewer";
}

export interface DayOutcome {
  /** YYYY-MM-DD, local to the server. */
  date: string;
  /** The worst outcome of that day's runs; null: no run; "missed" when one was due. */
  status: Status | "missed" | null;
}

export interface Plan {
  name: string;
  sources: string[];
  repositories: string[];
  schedule: string | null;
  last_run: { run_id: string; status: Status; time: string } | null;
  next_run: string | null;
  running: boolean;
  bytes_protected?: number | null;
  days?: DayOutcome[];
  overdue?: boolean;
}

export interface Figures {
  files_new: number;
  files_changed: number;
  files_unmodified: number;
  data_added: number;
  duration_s: number;
  error_count?: number;
}

export interface Run {
  run_id: string;
  plan: string;
  status: Status;
  started_at: string | null;
  ended_at: string | null;
  repositories: string[];
  snapshot_ids: Record<string, string>;
  summaries: Record<string, Figures>;
  error: string | null;
  progress: Record<string, unknown> | null;
  started_by: string | null;
}

export interface RunDetail extends Run {
  warnings: string[];
  log_tail: string[];
  events: WireEvent[];
}

export type WireEvent = { type: string; plan?: string; run_id?: string } & Record<string, unknown>;

export interface Snapshot {
  id: string;
  short_id: string;
  time: string;
  /** null for a restore point kept on the source. */
  repository: string | null;
  /** backup (files), dump (a database), replica (a replication target's copy), restore_point (on the source). */
  kind: "backup" | "dump" | "replica" | "restore_point";
  paths: string[];
  tags?: string[];
  /** Restore points: the run that made them (their id in the tree route). */
  run_id?: string;
  database?: string;
}

export interface TreeEntry {
  name: string;
  path: string;
  type: "dir" | "file" | "symlink" | "other";
  size: number | null;
  mtime: string | null;
}

export interface Diff {
  from: string;
  to: string;
  /** restic's modifiers: + added, - removed, M content, T type, U metadata. */
  changes: { path: string; modifier: string }[];
}

export type Overwrite = "never" | "if-newer" | "always";

export interface RestorePreview {
  dry_run: true;
  files: { path: string; to: string; exists: boolean; action: string }[];
  truncated: boolean;
}

export interface Retained {
  id: string;
  short_id: string;
  time: string;
  reasons: string[];
}

export interface PruneReport {
  plan: string;
  dry_run: boolean;
  ok: boolean;
  repositories: {
    repository: string;
    keep: Retained[];
    remove: Retained[];
    pruned: boolean;
    skipped?: string;
    error?: string;
  }[];
}

export interface CheckReport {
  ok: boolean;
  [key: string]: unknown;
}
