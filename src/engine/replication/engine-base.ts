import { hostname } from "node:os";
import { errorMessage, SnapbackError } from "../../errors.js";
import { pipeline, pipelineCommand, type PipelineStage } from "../../exec/index.js";
import { log } from "../../log.js";
import type { TakenSnapshot } from "../../core/snapshot.js";
import type {
  BackupSummary,
  EngineSnapshot,
  ForgetReport,
  ForgetRequest,
  KeepRules,
  ReplicatedSnapshot,
  RepositoryEngine,
  RetainedSnapshot,
  StreamBackupRequest,
  StreamBackupSummary,
  StreamRestoreRequest,
  StreamRestoreResult,
  ViewBackupRequest,
} from "../types.js";
import { pinnedSnapshots, readPins, type Pin } from "./pins.js";
import { runIdTime } from "./naming.js";
import { hasRules, planRules, rulesFrom, type KeepKeys } from "./retention.js";
import { localHost, sshHost, type Host } from "./ssh.js";
import { acquireTargetLock } from "./target-lock.js";

/**
 * One send/receive a backup made: what its summary reports (`replicated`), and what the bench
 * and --verbose look at besides.
 */
export interface TransferRecord extends ReplicatedSnapshot {
  /** The snapshot sent (btrfs path, ZFS `ds@snap`). */
  snapshot: string;
  /** The pipeline that ran, e.g. `btrfs send -p A B | btrfs receive T`. */
  command: string;
}

/** The keys every replication repository has (config schema). */
export interface ReplicationRepository extends KeepKeys {
  ssh?: string | undefined;
  ssh_options?: string[] | undefined;
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

/** One source snapshot of a run that a target is to receive. */
export interface ReplicationItem {
  /** The source subvolume (btrfs) or dataset (ZFS). */
  source: string;
  /** The snapshot sent: a btrfs path, a ZFS `dataset@snap`. */
  snapshot: string;
  runId: string;
}

/** A snapshot on a target, with the source it stands for. */
export interface TargetSnapshotBase {
  source: string;
  plan: string;
  runId: string;
  time: Date | undefined;
  /** Receive order on the target (generation, createtxg). */
  order: number;
}

/**
 * A target snapshot from its parsed name, with what the kind keeps of it; undefined when the
 * name is not snapback's (or the snapshot not usable) or, given `plan`, of another plan.
 */
export function targetSnapshotOf<X extends object>(
  source: string,
  parsed: { plan: string; runId: string } | undefined,
  plan: string | undefined,
  order: number,
  extra: X,
): (TargetSnapshotBase & X) | undefined {
  if (!parsed || (plan !== undefined && parsed.plan !== plan)) return undefined;
  const { runId } = parsed;
  return { source, plan: parsed.plan, runId, time: runIdTime(runId), order, ...extra };
}

/** What keep rules chose for one source's snapshots on a target. */
export interface SourceRetention {
  source: string;
  keep: { item: { runId: string; time: Date }; reasons: string[] }[];
  remove: { runId: string; time: Date }[];
}

/** What a target's keep rules work from: the request, the rules in force, the parents pinned. */
export interface RetentionPass {
  req: ForgetRequest;
  rules: KeepRules;
  pins: Record<string, Pin>;
}

/**
 * What target retention never removes of one source: the parent of the next send — the
 * pinned one (matched by the id the target knows it by), and the newest of `chain` (by
 * receive order) in case the pins were lost.
 */
export function nextParents<T>(
  own: readonly T[],
  chain: readonly T[],
  pinned: Pin | undefined,
  of: { name: (t: T) => string; sendId: (t: T) => string; order: (t: T) => number },
): Set<string> {
  const newest = [...chain].sort((a, b) => of.order(b) - of.order(a))[0];
  return new Set([
    ...own.filter((t) => pinned !== undefined && of.sendId(t) === pinned.sendId).map(of.name),
    ...(newest === undefined ? [] : [of.name(newest)]),
  ]);
}

/** `host:path` over ssh, the bare path here: how messages name a place on the target. */
export function onHost(host: Host, path: string): string {
  return host.remote ? `${host.label}:${path}` : path;
}

/** The words that tell the two kinds of target apart in commands and messages. */
export interface TargetKind {
  /** The command that sends and receives: `btrfs`, `zfs`. */
  tool: string;
  /** Its flag for an incremental send from a parent. */
  parentFlag: string;
  /** How messages name its snapshots: `btrfs`, `ZFS`. */
  label: string;
  /** What one source is: `subvolumes`, `datasets`. */
  units: string;
}

/**
 * What btrfs and ZFS targets share: they hold filesystem snapshots, not restic-style archives,
 * so database dumps cannot go there, and tags are only `plan:<name>`. A backup, the listing
 * and `forget` run the same steps on both; the subclass supplies what differs (which source
 * snapshots it takes, how one is sent, where the target lock is, how snapshots are listed and
 * kept).
 */
export abstract class ReplicationEngine<S extends TargetSnapshotBase> {
  protected readonly host: Host;

  protected constructor(
    readonly repoName: string,
    private readonly replicationRepo: ReplicationRepository,
    protected readonly stateDir: string,
    /** The repository's directory (btrfs) or dataset (ZFS) on its host. */
    private readonly location: string,
  ) {
    this.host = targetHost(repoName, replicationRepo);
  }

  protected abstract readonly kind: TargetKind;

  /** The target as messages name it (`host:location` over ssh). */
  protected get where(): string {
    return onHost(this.host, this.location);
  }
  /** The file the target lock is taken on, on the target's host. */
  protected abstract get lockFile(): string;
  /** Where the snapshots of source `path` are received, as `--dry-run` shows it. */
  protected abstract receiveInto(path: string): string;
  /** The source snapshots of one taken group this target can receive; undefined: none. */
  protected abstract itemsOf(taken: TakenSnapshot): ReplicationItem[] | undefined;
  /** Sends one item (prepared before the target lock is taken). */
  protected abstract sender(
    req: ViewBackupRequest,
    runId: string,
  ): Promise<(item: ReplicationItem) => Promise<TransferRecord>>;
  /** The complete snapshots on the target, of one plan or all. */
  protected abstract targetSnapshots(plan?: string, signal?: AbortSignal): Promise<S[]>;
  /** Applies (or with dryRun only computes) keep rules, source by source. */
  protected abstract retainPerSource(pass: RetentionPass): Promise<SourceRetention[]>;

  describeBackup(req: Parameters<RepositoryEngine["describeBackup"]>[0]): string {
    const { tool, parentFlag, label } = this.kind;
    const receive = `${this.host.remote ? `ssh ${this.host.label} ` : ""}${tool} receive`;
    return req.paths
      .map(
        (p) =>
          `${tool} send [${parentFlag} <newest snapshot on both sides>] <${label} snapshot of ${p}> | ${receive} ${this.receiveInto(p)}`,
      )
      .join("\n");
  }

  protected lock(): Promise<AsyncDisposable> {
    return acquireTargetLock(
      this.host,
      this.lockFile,
      `repository "${this.repoName}" (${this.where})`,
    );
  }

  async backup(req: ViewBackupRequest): Promise<BackupSummary> {
    const started = performance.now();
    const { label, units } = this.kind;
    const items: ReplicationItem[] = [];
    for (const t of req.snapshots) {
      const own = this.itemsOf(t);
      if (!own) {
        req.onWarning(
          `${t.plan.sources.join(", ")} ${t.plan.kind === "none" ? "is not on a snapshot-capable filesystem" : `is on ${t.plan.kind}`}: ` +
            `a ${label} target can only receive ${label} snapshots, so it is not replicated to "${this.repoName}"`,
        );
        continue;
      }
      items.push(...own);
    }
    if (items.length === 0) {
      throw new SnapbackError(
        `nothing to replicate to "${this.repoName}": the plan has no ${label} source`,
      );
    }
    const runId = items[0]?.runId ?? "";
    const send = await this.sender(req, runId);
    await using _lock = await this.lock();
    const failures: string[] = [];
    const sent: TransferRecord[] = [];
    for (const item of items) {
      if (req.signal.aborted) throw new SnapbackError("interrupted");
      try {
        sent.push(await send(item));
      } catch (e) {
        if (req.signal.aborted) throw e;
        failures.push(errorMessage(e));
      }
    }
    if (failures.length > 0) {
      throw new SnapbackError(
        failures.length === 1
          ? (failures[0] ?? "")
          : `${failures.length} ${units} were not replicated:\n  ${failures.join("\n  ")}`,
      );
    }
    return replicationSummary(runId, sent, started);
  }

  /** What every transfer of a backup shares: the plan, the repositories, the rules. */
  protected replicationOf(req: ViewBackupRequest, runId: string): Replication {
    return {
      host: this.host,
      planName: req.planName,
      runId,
      repoName: this.repoName,
      stateDir: this.stateDir,
      otherRepos: req.plan.repositories.filter((r) => r !== this.repoName),
      rules: effectiveRules(this.replicationRepo, planRules(req.plan)),
      localSnapshots: req.plan.retention?.local_snapshots ?? 0,
      signal: req.signal,
      warn: req.onWarning,
    };
  }

  protected runsOf(snaps: readonly S[]): RunGroup<S>[] {
    return groupRuns(snaps, (s) => s.order);
  }

  async snapshots(plan?: string): Promise<EngineSnapshot[]> {
    return this.runsOf(await this.targetSnapshots(plan)).map((r) =>
      snapshotEntry(
        r.plan,
        r.runId,
        r.time,
        r.snaps.map((s) => s.source),
      ),
    );
  }

  /** The run `wanted` names among the plan's (or all) runs on the target. */
  protected async pickRun(
    wanted: string,
    plan: string | undefined,
    signal: AbortSignal,
  ): Promise<RunGroup<S>> {
    return pickRun(
      this.runsOf(await this.targetSnapshots(plan, signal)),
      wanted,
      `repository "${this.repoName}"`,
    );
  }

  async forget(req: ForgetRequest): Promise<ForgetReport> {
    const rules = effectiveRules(this.replicationRepo, req.rules);
    await using _lock = req.dryRun
      ? { [Symbol.asyncDispose]: () => Promise.resolve() }
      : await this.lock();
    const pins = await readPins(this.stateDir, this.repoName, req.plan);
    const report: ForgetReport = { keep: [], remove: [] };
    for (const { source, keep, remove } of await this.retainPerSource({ req, rules, pins })) {
      const entry = (runId: string, time: Date, reasons: string[]): RetainedSnapshot => ({
        ...snapshotEntry(req.plan, runId, time, [source]),
        reasons,
      });
      for (const k of keep) report.keep.push(entry(k.item.runId, k.item.time, k.reasons));
      for (const r of remove) report.remove.push(entry(r.runId, r.time, []));
    }
    return report;
  }

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

/**
 * One source snapshot sent to a target, as both kinds do it: partial receives cleaned up,
 * the parent found, send | receive process to process, the result verified, the new parent
 * pinned, retention applied on the target, the replaced parents removed from the source.
 */
export interface Replication {
  host: Host;
  planName: string;
  /** The run whose snapshot is sent (its snapshot never counts against local_snapshots). */
  runId: string;
  repoName: string;
  stateDir: string;
  /** The plan's other repositories: their pins are respected on the source. */
  otherRepos: readonly string[];
  /** Target retention; an empty object keeps everything. */
  rules: KeepRules;
  /** The plan's local_snapshots: that many newest runs stay on the source anyway. */
  localSnapshots: number;
  signal: AbortSignal;
  warn: (message: string) => void;
}

/**
 * `send | receive`, process to process, logged with --verbose and timed. When it fails,
 * `cleanup` removes what the receive left before the error is thrown.
 */
export async function sendReceive(
  r: Replication,
  stages: PipelineStage[],
  what: { snapshot: string; where: string; cleanup: () => Promise<void> },
): Promise<{ command: string; durationS: number }> {
  const command = pipelineCommand(stages);
  log.verbose(`${r.repoName}: ${command}`);
  const t0 = performance.now();
  try {
    await pipeline(stages, { signal: r.signal, killGraceMs: 5_000 });
  } catch (e) {
    await what.cleanup();
    throw new SnapbackError(
      `sending ${what.snapshot} to ${what.where} failed: ${errorMessage(e)}`,
      { cause: e },
    );
  }
  return { command, durationS: (performance.now() - t0) / 1000 };
}

/**
 * The plan's older snapshots of a source leave it once the new one is the parent — except
 * those another repository of the plan still needs (its pin) and the newest `local_snapshots`
 * runs, the same rule local retention applies.
 */
export async function pruneSourceParents<T>(
  r: Replication,
  older: readonly T[],
  of: {
    /** The name pins record: a btrfs path, a ZFS `dataset@snap`. */
    name: (s: T) => string;
    runId: (s: T) => string;
    /** Creation order: the generation or createtxg, not the birth time nor the run id alone. */
    order: (s: T) => number;
    /** Removes it if it is snapback's; false when it was not there or not ours. */
    remove: (s: T) => Promise<boolean>;
  },
): Promise<void> {
  if (older.length === 0) return;
  const elsewhere = await pinnedSnapshots(r.stateDir, r.planName, r.otherRepos);
  const newestRuns = [
    ...new Set([...older].sort((a, b) => of.order(b) - of.order(a)).map(of.runId)),
  ].slice(0, Math.max(0, r.localSnapshots - 1));
  for (const s of older) {
    const runId = of.runId(s);
    const name = of.name(s);
    if (!runId || runId === r.runId || elsewhere.has(name) || newestRuns.includes(runId)) continue;
    try {
      if (await of.remove(s))
        log.verbose(`${r.repoName}: removed ${name}, which the new parent replaces`);
    } catch (e) {
      r.warn(`could not remove the old replication parent ${name}: ${errorMessage(e)}`);
    }
  }
}

export function replicationSummary(
  runId: string,
  sent: readonly TransferRecord[],
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
    totalFilesProcessed: sent.length,
    totalBytesProcessed: 0,
    durationS: (performance.now() - startedMs) / 1000,
    errorCount: 0,
    errors: [],
    replicated: [...sent],
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
