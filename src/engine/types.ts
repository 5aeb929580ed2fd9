import type { Readable, Writable } from "node:stream";
import type { Plan, Repository } from "../config/schema.js";
import type { RepositorySecrets } from "../config/secrets.js";
import type { TakenSnapshot } from "../core/snapshot.js";

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
  /**
   * A file holding every exclude pattern of the run in order (ignore files, then the plan's
   * `exclude`, then `extraExcludes`); when set it replaces the separate patterns.
   */
  excludeFile?: string;
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
  /** Share done, a fraction 0–1 (as restic reports it and the D-Bus PercentDone); never 0–100. */
  fraction: number;
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
  /**
   * A replication target (btrfs, ZFS): what was sent, one entry per source. Such engines count
   * no files, so the counts above stay 0 and this is what a report shows instead.
   */
  replicated?: ReplicatedSnapshot[];
}

/** One source snapshot a replication target received. */
export interface ReplicatedSnapshot {
  /** The source subvolume (btrfs) or dataset (ZFS). */
  source: string;
  /** What it became on the target (btrfs path, ZFS `dataset@snap`). */
  received: string;
  /** The parent of an incremental send (btrfs path, ZFS `dataset@snap`); undefined: in full. */
  parent?: string;
  /** The send | receive itself. */
  durationS: number;
}

export interface EngineSnapshot {
  id: string;
  shortId: string;
  time: string;
  paths: string[];
  tags: string[];
  host: string;
}

export interface PrepareOptions {
  /**
   * Nothing before the backup would be harmed by a late failure (no `before` hook stops a
   * service, no database is dumped): an engine may leave finding a wrong password to the
   * backup itself when it can tell cheaply that there is nothing else to do first.
   */
  mayDefer?: boolean;
}

/** What a run needs of one configured repository, whatever its engine. */
export interface RepositoryEngine {
  readonly repoName: string;
  readonly engine: Repository["engine"];
  /** Opens the repository (creating it when the config says `init = true`); throws a clear error otherwise. */
  prepare(signal: AbortSignal, options?: PrepareOptions): Promise<void>;
  /** Refuses (UsageError) plan keys the engine's binary is too old for, before any hook runs. */
  checkPlanFlags?(planName: string, plan: Plan): Promise<void>;
  /** Directories the engine writes during a backup; they stay live and writable in the view. */
  writableDirs(): string[];
  /** The command a backup would run, for --dry-run (no secrets). */
  describeBackup(
    req: Pick<ViewBackupRequest, "planName" | "plan" | "paths" | "extraExcludes" | "host"> &
      Partial<Pick<ViewBackupRequest, "excludeFile">>,
  ): string;
  backup(req: ViewBackupRequest): Promise<BackupSummary>;
  snapshots(plan?: string): Promise<EngineSnapshot[]>;
  restore(req: RestoreRequest): Promise<void>;
  /** Applies keep rules to one plan's backups from one host (never any other's). */
  forget(req: ForgetRequest): Promise<ForgetReport>;
  /** Frees the space of forgotten backups (repository-wide). */
  prune(signal: AbortSignal): Promise<void>;
  /** Checks the repository's structure, and reads back `readData` of its data when given. */
  check(req: { readData?: string; signal: AbortSignal }): Promise<RepositoryCheckReport>;
  /** Up to `count` regular files of one backup chosen at random (recorded size, mtime), and how many it holds. */
  sampleFiles(
    snapshotId: string,
    count: number,
    signal: AbortSignal,
  ): Promise<{ files: BackupFile[]; total: number }>;
  /** Restores exactly these files of a backup below `target` (at their original paths). */
  restoreFiles(req: RestoreFilesRequest): Promise<RestoreFilesResult>;
  /** Stores one stream (a database dump) as its own snapshot holding the file `filename`. */
  backupStream(req: StreamBackupRequest): Promise<StreamBackupSummary>;
  /** Streams the file `filename` of a snapshot into `sink`. */
  restoreStream(req: StreamRestoreRequest): Promise<StreamRestoreResult>;
  /** Snapshots that carry every one of `tags`, oldest first. */
  snapshotsWithTags(tags: string[], signal?: AbortSignal): Promise<EngineSnapshot[]>;
  /** Values that must never appear in output (password, env values). */
  secretValues(): string[];
  /**
   * Replication targets (btrfs/zfs send): the source snapshots (btrfs paths, ZFS `ds@snap`)
   * this repository needs as the parents of its next incremental sends for `planName`. The run
   * keeps such a snapshot instead of releasing it, and local retention must not remove it.
   */
  pinnedSourceSnapshots?(planName: string): Promise<string[]>;
  /**
   * Engines whose repositories hold lock files (restic): removes the stale ones (of a dead
   * process on this host, or older than the engine's stale age), or only lists them on a dry
   * run; `force` removes every lock, live or foreign.
   */
  clearLocks?(req: ClearLocksRequest): Promise<LocksReport>;
}

export interface ClearLocksRequest {
  dryRun: boolean;
  force: boolean;
  signal: AbortSignal;
}

/** A lock in a repository, as the engine recorded it. */
export interface RepositoryLock {
  id: string;
  /** ISO 8601, or the engine's own text when it does not parse. */
  time: string;
  exclusive: boolean;
  hostname: string;
  username: string;
  pid: number;
}

export interface LocksReport {
  /** Removed (or, on a dry run, would be), with the reason. */
  removed: { lock: RepositoryLock; reason: string }[];
  /** Locks left in place: live ones, and other hosts' younger than the stale age. */
  remaining: RepositoryLock[];
}

export interface RestoreRequest {
  plan: string;
  snapshot: string;
  target: string;
  paths: string[];
  overwrite: boolean;
  /**
   * With `overwrite`: replace an existing file only when the backup's copy is newer (by
   * mtime); newer or equally old files in the target are kept. restic repositories only.
   */
  ifNewer?: boolean;
  /** btrfs replication targets: also make a writable snapshot of what was received. */
  writable?: boolean;
  signal: AbortSignal;
  /** The plan's `extra_args.restore` (restic repositories only). */
  extraArgs?: readonly string[];
}

/**
 * A backup request as the run makes it; the engine adds its repository and secrets.
 * `snapshots` are the filesystem snapshots of this run, for engines that replicate them
 * (btrfs/zfs send) instead of reading the view.
 */
export type ViewBackupRequest = Omit<BackupRequest, "repoName" | "repo" | "secrets"> & {
  snapshots: readonly TakenSnapshot[];
};

/** Keep rules for an engine's retention; a missing or 0 count is no rule. */
export interface KeepRules {
  last?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  /** A duration such as "30d" or "1y6m", relative to the newest backup. */
  within?: string;
}

export interface RetainedSnapshot extends EngineSnapshot {
  /** Why it is kept ("daily snapshot", "last snapshot", …); empty for removed ones. */
  reasons: string[];
}

/** What retention kept and removed (or would, on a dry run) of one plan's backups on one host. */
export interface ForgetReport {
  keep: RetainedSnapshot[];
  remove: RetainedSnapshot[];
}

export interface ForgetRequest {
  plan: string;
  host: string;
  /** Select by these tags instead of the plan's own (database dumps have their own chain). */
  tags?: readonly string[];
  rules: KeepRules;
  dryRun: boolean;
  signal: AbortSignal;
  /** The plan's `extra_args.forget` (restic repositories only). */
  extraArgs?: readonly string[];
}

/** The outcome of a repository check; `ok: false` lists what the engine reported. */
export interface RepositoryCheckReport {
  ok: boolean;
  /** The subset of pack data read ("all", "10%", "1/5", "500M"), if any. */
  readData?: string;
  errors: string[];
}

/** A regular file in a backup, with the metadata the backup recorded. */
export interface BackupFile {
  path: string;
  size: number;
  /** Modification time in nanoseconds since the epoch. */
  mtimeNs: bigint;
}

export interface RestoreFilesRequest {
  snapshotId: string;
  target: string;
  /** Exact original paths of regular files (no patterns). */
  paths: string[];
  signal: AbortSignal;
}

/** Restores that hit errors still restore what they can; the errors name the files. */
export interface RestoreFilesResult {
  errors: string[];
}

/** A program in a stream: its stdout feeds a backup, or its stdin reads a restore. */
export interface StreamCommand {
  /** For messages: "pg_dump of database app". */
  label: string;
  file: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  /** Values masked in its error output (the program may echo them). */
  secrets?: string[];
}

/** Where a backed-up stream comes from. */
export type StreamSource =
  ({ kind: "command" } & StreamCommand) | { kind: "readable"; label: string; open: () => Readable };

/** Where a restored stream goes; a writable is ended when the stream is complete, destroyed on failure. */
export type StreamSink =
  ({ kind: "command" } & StreamCommand) | { kind: "writable"; label: string; stream: Writable };

export interface StreamBackupRequest {
  /** The absolute path the stream is recorded under. */
  filename: string;
  host: string;
  /** Every tag of the snapshot. */
  tags: string[];
  source: StreamSource;
  /** Extra environment for the engine (TMPDIR). */
  env: Record<string, string>;
  signal: AbortSignal;
}

export interface StreamBackupSummary {
  snapshotId: string;
  /** Bytes read from the source. */
  bytes: number;
  /** Bytes the repository grew by (after dedup and compression). */
  dataAdded: number;
  durationS: number;
  /** The path the snapshot records, when the engine had to store it under another name. */
  storedAs?: string;
}

export interface StreamRestoreRequest {
  snapshotId: string;
  filename: string;
  sink: StreamSink;
  signal: AbortSignal;
}

export interface StreamRestoreResult {
  bytes: number;
}
