import { hostname } from "node:os";
import { SnapbackError } from "../../errors.js";
import type { KeepRules } from "../types.js";
import type {
  EngineSnapshot,
  StreamBackupRequest,
  StreamBackupSummary,
  StreamRestoreRequest,
  StreamRestoreResult,
  BackupSummary,
} from "../types.js";
import { readPins } from "./pins.js";
import { hasRules, rulesFrom } from "./retention.js";
import { localHost, sshHost, type Host } from "./ssh.js";

/** One send/receive a backup made: what tests, the bench and --verbose look at. */
export interface TransferRecord {
  /** btrfs: the source subvolume; ZFS: the source dataset. */
  source: string;
  /** The snapshot sent (btrfs path, ZFS `ds@snap`). */
  snapshot: string;
  /** The parent of an incremental send; absent for a full one. */
  parent?: string;
  /** What it became on the target (btrfs path, ZFS `ds@snap`). */
  received: string;
  /** The pipeline that ran, e.g. `btrfs send -p A B | btrfs receive T`. */
  command: string;
  durationMs: number;
}

/** The keys every replication repository has (config schema). */
export interface ReplicationRepository {
  ssh?: string | undefined;
  ssh_options?: string[] | undefined;
  keep_last?: number | undefined;
  keep_hourly?: number | undefined;
  keep_daily?: number | undefined;
  keep_weekly?: number | undefined;
  keep_monthly?: number | undefined;
  keep_yearly?: number | undefined;
  keep_within?: string | undefined;
}

export function targetHost(repoName: string, repo: ReplicationRepository): Host {
  return repo.ssh === undefined
    ? localHost
    : sshHost(repo.ssh, repo.ssh_options ?? [], `repositories.${repoName}.ssh (${repo.ssh})`);
}

/** The repository's own keep rules replace the plan's when it has any. */
export function effectiveRules(repo: ReplicationRepository, planRules: KeepRules): KeepRules {
  const own = rulesFrom(repo);
  return hasRules(own) ? own : planRules;
}

/**
 * What btrfs and ZFS targets share: they hold filesystem snapshots, not restic-style archives,
 * so database dumps cannot go there, and tags are only `plan:<name>`.
 */
export abstract class ReplicationEngine {
  /** Every transfer of this engine's backups so far, oldest first. */
  readonly transfers: TransferRecord[] = [];

  protected constructor(
    readonly repoName: string,
    protected readonly stateDir: string,
    protected readonly host: Host,
  ) {}

  abstract snapshots(plan?: string): Promise<EngineSnapshot[]>;

  writableDirs(): string[] {
    return [];
  }

  secretValues(): string[] {
    return [];
  }

  /** Sends and receives have nothing left to free: deleting a snapshot frees its space. */
  async prune(): Promise<void> {}

  async pinnedSourceSnapshots(planName: string): Promise<string[]> {
    return Object.values(await readPins(this.stateDir, this.repoName, planName)).map(
      (p) => p.snapshot,
    );
  }

  async snapshotsWithTags(tags: string[]): Promise<EngineSnapshot[]> {
    const all = await this.snapshots();
    return all
      .filter((s) => tags.every((t) => s.tags.includes(t)))
      .sort((a, b) => a.time.localeCompare(b.time));
  }

  backupStream(_req: StreamBackupRequest): Promise<StreamBackupSummary> {
    return Promise.reject(this.noStreams());
  }

  restoreStream(_req: StreamRestoreRequest): Promise<StreamRestoreResult> {
    return Promise.reject(this.noStreams());
  }

  private noStreams(): SnapbackError {
    return new SnapbackError(
      `repository "${this.repoName}" is a replication target (filesystem snapshots): database dumps need a restic or kopia repository`,
    );
  }
}

export function replicationSummary(
  runId: string,
  subvolumes: number,
  startedMs: number,
): BackupSummary {
  return {
    snapshotId: runId,
    filesNew: 0,
    filesChanged: 0,
    filesUnmodified: 0,
    dirsNew: 0,
    dirsChanged: 0,
    dirsUnmodified: 0,
    dataBlobs: 0,
    treeBlobs: 0,
    dataAdded: 0,
    totalFilesProcessed: subvolumes,
    totalBytesProcessed: 0,
    durationS: (performance.now() - startedMs) / 1000,
    errorCount: 0,
    errors: [],
  };
}

export function snapshotEntry(
  plan: string,
  runId: string,
  time: Date | undefined,
  paths: string[],
): EngineSnapshot {
  return {
    id: runId,
    shortId: runId,
    time: (time ?? new Date(0)).toISOString(),
    paths: [...new Set(paths)].sort(),
    tags: [`plan:${plan}`],
    host: hostname(),
  };
}

/** The snapshots of one run on a target (one per source). */
export interface RunGroup<S> {
  runId: string;
  plan: string;
  time: Date | undefined;
  /** Receive order on the target: run ids have one-second precision, this does not. */
  order: number;
  snaps: S[];
}

export function groupRuns<S extends { plan: string; runId: string; time: Date | undefined }>(
  snaps: readonly S[],
  orderOf: (s: S) => number,
): RunGroup<S>[] {
  const byRun = new Map<string, RunGroup<S>>();
  for (const s of snaps) {
    const key = `${s.plan}@${s.runId}`;
    const g = byRun.get(key) ?? { runId: s.runId, plan: s.plan, time: s.time, order: 0, snaps: [] };
    g.snaps.push(s);
    g.order = Math.max(g.order, orderOf(s));
    byRun.set(key, g);
  }
  return [...byRun.values()].sort(byTime);
}

/** Oldest first. */
export function byTime(
  a: { time: Date | undefined; order: number; runId: string },
  b: { time: Date | undefined; order: number; runId: string },
): number {
  return (
    (a.time?.getTime() ?? 0) - (b.time?.getTime() ?? 0) ||
    a.order - b.order ||
    a.runId.localeCompare(b.runId)
  );
}

/** A run's snapshots picked by `latest`, a full run id or an unambiguous prefix of one. */
export function pickRun<T extends { runId: string; time: Date | undefined; order: number }>(
  runs: readonly T[],
  wanted: string,
  what: string,
): T {
  if (runs.length === 0) throw new SnapbackError(`${what} holds no snapshot of this plan`);
  if (wanted === "latest") {
    const newest = [...runs].sort(byTime).at(-1);
    if (newest) return newest;
  }
  const exact = runs.find((r) => r.runId === wanted);
  if (exact) return exact;
  const prefixed = runs.filter((r) => r.runId.startsWith(wanted));
  if (prefixed.length === 1 && prefixed[0]) return prefixed[0];
  throw new SnapbackError(
    prefixed.length > 1
      ? `snapshot "${wanted}" is ambiguous in ${what}: ${prefixed.map((r) => r.runId).join(", ")}`
      : `no snapshot "${wanted}" in ${what} (see: snapback snapshots)`,
  );
}

/** ns since the epoch from find's `%T@` ("1700000000.1234567890"). */
export function mtimeNs(text: string): bigint {
  const [sec = "0", frac = ""] = text.split(".");
  return BigInt(sec) * 1_000_000_000n + BigInt((frac + "000000000").slice(0, 9));
}

/** `count` items picked uniformly at random (all of them if there are fewer). */
export function sample<T>(items: readonly T[], count: number): T[] {
  const pool = [...items];
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [pool[i], pool[j]] = [pool[j] as T, pool[i] as T];
  }
  return pool.slice(0, Math.max(0, count));
}
