import type { Plan, Repository } from "../config/schema.js";
import type { RepositorySecrets } from "../config/secrets.js";

/** Wraps an engine argv so it runs inside the snapshot view (mount namespace). */
export type CommandWrapper = (file: string, args: string[]) => { file: string; args: string[] };

export interface BackupRequest {
  planName: string;
  plan: Plan;
  repoName: string;
  repo: Repository;
  secrets: RepositorySecrets;
  /** Original source paths, as recorded in the backup. */
  paths: string[];
  /** Extra exclude patterns (snapback's own state, snapshot dirs inside sources). */
  extraExcludes: string[];
  host: string;
  /** Runs the engine inside the view. */
  wrap: CommandWrapper;
  /** Extra environment inside the view (cache and temp dirs on live mounts). */
  env: Record<string, string>;
  signal: AbortSignal;
  onProgress: (p: BackupProgress) => void;
  onWarning: (message: string) => void;
}

export interface BackupProgress {
  repository: string;
  percent: number;
  filesDone: number;
  totalFiles: number;
  bytesDone: number;
  totalBytes: number;
  secondsElapsed: number;
  secondsRemaining: number | undefined;
  currentFiles: string[];
}

export interface BackupSummary {
  snapshotId: string;
  filesNew: number;
  filesChanged: number;
  filesUnmodified: number;
  dirsNew: number;
  dirsChanged: number;
  dirsUnmodified: number;
  dataBlobs: number;
  treeBlobs: number;
  dataAdded: number;
  totalFilesProcessed: number;
  totalBytesProcessed: number;
  durationS: number;
  /** Files that could not be read: the backup exists but is incomplete (exit 3). */
  errorCount: number;
  errors: string[];
}

export interface EngineSnapshot {
  id: string;
  shortId: string;
  time: string;
  paths: string[];
  tags: string[];
  host: string;
}

/** What a run needs of one configured repository, whatever its engine. */
export interface RepositoryEngine {
  readonly repoName: string;
  readonly engine: Repository["engine"];
  /** Opens the repository (creating it when the config says `init = true`); throws a clear error otherwise. */
  prepare(signal: AbortSignal): Promise<void>;
  /** Directories the engine writes during a backup; they stay live and writable in the view. */
  writableDirs(): string[];
  /** The command a backup would run, for --dry-run (no secrets). */
  describeBackup(req: Pick<ViewBackupRequest, "planName" | "plan" | "paths" | "extraExcludes" | "host">): string;
  backup(req: ViewBackupRequest): Promise<BackupSummary>;
  snapshots(plan?: string): Promise<EngineSnapshot[]>;
  restore(req: RestoreRequest): Promise<void>;
  /** Values that must never appear in output (password, env values). */
  secretValues(): string[];
}

export interface RestoreRequest {
  plan: string;
  snapshot: string;
  target: string;
  paths: string[];
  overwrite: boolean;
  signal: AbortSignal;
}

/** A backup request as the run makes it; the engine adds its repository and secrets. */
export type ViewBackupRequest = Omit<BackupRequest, "repoName" | "repo" | "secrets">;
