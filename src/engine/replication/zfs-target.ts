import type { ZfsRepository } from "../../config/schema.js";
import { errorMessage, SnapbackError, UsageError } from "../../errors.js";
import { pipeline, run } from "../../exec/index.js";
import type { ZfsGroupDetail } from "../../snapshot/zfs/index.js";
import type { TakenSnapshot } from "../../snapshot/types.js";
import type {
  BackupFile,
  BackupSummary,
  EngineSnapshot,
  ForgetReport,
  ForgetRequest,
  RepositoryCheckReport,
  RepositoryEngine,
  RestoreFilesRequest,
  RestoreFilesResult,
  RestoreRequest,
  RetainedSnapshot,
  ViewBackupRequest,
} from "../types.js";
import {
  effectiveRules,
  groupRuns,
  pickRun,
  type RunGroup,
  ReplicationEngine,
  replicationSummary,
  snapshotEntry,
  targetHost,
} from "./engine-base.js";
import { escapeSourceName, parseZfsSnapshotName, runIdTime } from "./naming.js";
import { readPins } from "./pins.js";
import { planRules } from "./retention.js";
import { localHost } from "./ssh.js";
import { acquireTargetLock } from "./target-lock.js";
import { replicationCapabilities, type ZfsReplicationCapabilities } from "./zfs-capabilities.js";
import {
  applyZfsTargetRetention,
  listZfsSnapshots,
  replicateZfsSnapshot,
  sourceOfTargetDataset,
  targetDatasetFor,
  type ZfsSnap,
} from "./zfs-replicate.js";

interface TargetSnapshot {
  source: string;
  plan: string;
  runId: string;
  time: Date | undefined;
  snap: ZfsSnap;
}

function zfsDetail(t: TakenSnapshot): ZfsGroupDetail | undefined {
  const d = t.plan.detail as Partial<ZfsGroupDetail> | null;
  return t.plan.kind === "zfs" && d && typeof d.snapName === "string" && Array.isArray(d.datasets)
    ? (d as ZfsGroupDetail)
    : undefined;
}

/**
 * A ZFS replication target (`engine = "zfs"`): a dataset, here or through ssh, that receives
 * one child dataset per source dataset (`<dataset>/<escaped source>`) with `zfs send | zfs
 * receive`, incrementally (`-i`) from the newest snapshot both sides share (by guid). The shared
 * snapshot is held on the target where ZFS has holds, and always kept.
 */
export class ZfsTargetEngine extends ReplicationEngine implements RepositoryEngine {
  readonly engine = "zfs" as const;
  private caps: Promise<[ZfsReplicationCapabilities, ZfsReplicationCapabilities]> | undefined;

  constructor(
    repoName: string,
    private readonly repo: ZfsRepository,
    stateDir: string,
  ) {
    super(repoName, stateDir, targetHost(repoName, repo));
  }

  private get where(): string {
    return this.host.remote ? `${this.host.label}:${this.repo.dataset}` : this.repo.dataset;
  }

  private get lockFile(): string {
    return `/var/lock/snapback-zfs-${escapeSourceName(this.repo.dataset)}.lock`;
  }

  /** [source side, target side], detected once. */
  private capabilities(): Promise<[ZfsReplicationCapabilities, ZfsReplicationCapabilities]> {
    this.caps ??= Promise.all([
      replicationCapabilities(localHost),
      replicationCapabilities(this.host),
    ]);
    return this.caps;
  }

  /** The container dataset must be reachable; it is created when only it is missing, never its pool. */
  async prepare(signal: AbortSignal): Promise<void> {
    const probe = await this.host.run(["zfs", "list", "-H", "-o", "name", this.repo.dataset], {
      reject: false,
      signal,
    });
    if (probe.exitCode === 0) return;
    if (probe.exitCode === 127 || /not found/i.test(probe.stderr)) {
      throw new SnapbackError(
        `zfs is not installed on ${this.host.label} (repository "${this.repoName}")`,
      );
    }
    const pool = this.repo.dataset.split("/")[0] ?? this.repo.dataset;
    const poolProbe = await this.host.run(["zfs", "list", "-H", "-o", "name", pool], {
      reject: false,
      signal,
    });
    if (poolProbe.exitCode !== 0) {
      throw new SnapbackError(
        `repositories.${this.repoName}.dataset: pool ${pool} does not exist on ${this.host.label}`,
        {
          hint: poolProbe.stderr.trim() || "import the pool, or check the dataset name",
        },
      );
    }
    await this.host.run(["zfs", "create", "-p", this.repo.dataset], { signal });
  }

  describeBackup(req: Parameters<RepositoryEngine["describeBackup"]>[0]): string {
    const receive = `${this.host.remote ? `ssh ${this.host.label} ` : ""}zfs receive`;
    return req.paths
      .map(
        (p) =>
          `zfs send [-i <newest snapshot on both sides>] <ZFS snapshot of ${p}> | ${receive} ${this.repo.dataset}/<source dataset>`,
      )
      .join("\n");
  }

  async backup(req: ViewBackupRequest): Promise<BackupSummary> {
    const started = performance.now();
    const items: { dataset: string; snapshot: string; runId: string }[] = [];
    for (const t of req.snapshots) {
      const d = zfsDetail(t);
      if (!d) {
        req.onWarning(
          `${t.plan.sources.join(", ")} ${t.plan.kind === "none" ? "is not on a snapshot-capable filesystem" : `is on ${t.plan.kind}`}: ` +
            `a ZFS target can only receive ZFS snapshots, so it is not replicated to "${this.repoName}"`,
        );
        continue;
      }
      for (const ds of d.datasets)
        items.push({ dataset: ds, snapshot: `${ds}@${d.snapName}`, runId: d.runId });
    }
    if (items.length === 0)
      throw new SnapbackError(
        `nothing to replicate to "${this.repoName}": the plan has no ZFS source`,
      );
    const [sourceCaps, targetCaps] = await this.capabilities();
    await using _lock = await acquireTargetLock(
      this.host,
      this.lockFile,
      `repository "${this.repoName}" (${this.where})`,
    );
    const failures: string[] = [];
    for (const item of items) {
      if (req.signal.aborted) throw new SnapbackError("interrupted");
      try {
        this.transfers.push(
          await replicateZfsSnapshot(
            {
              host: this.host,
              container: this.repo.dataset,
              planName: req.planName,
              runId: item.runId,
              repoName: this.repoName,
              stateDir: this.stateDir,
              otherRepos: req.plan.repositories.filter((r) => r !== this.repoName),
              rules: effectiveRules(this.repo, planRules(req.plan)),
              localSnapshots: req.plan.retention?.local_snapshots ?? 0,
              sourceCaps,
              targetCaps,
              signal: req.signal,
              warn: req.onWarning,
            },
            item.dataset,
            item.snapshot,
          ),
        );
      } catch (e) {
        if (req.signal.aborted) throw e;
        failures.push(errorMessage(e));
      }
    }
    if (failures.length > 0) {
      throw new SnapbackError(
        failures.length === 1
          ? (failures[0] ?? "")
          : `${failures.length} datasets were not replicated:\n  ${failures.join("\n  ")}`,
      );
    }
    return replicationSummary(items[0]?.runId ?? "", items.length, started);
  }

  private async targetSnapshots(plan?: string, signal?: AbortSignal): Promise<TargetSnapshot[]> {
    const all = await listZfsSnapshots(this.host, this.repo.dataset, {
      recursive: true,
      ...(signal ? { signal } : {}),
    });
    const out: TargetSnapshot[] = [];
    for (const snap of all.snaps) {
      const source = sourceOfTargetDataset(this.repo.dataset, snap.dataset);
      const parsed = parseZfsSnapshotName(snap.snap);
      if (source === undefined || !parsed || (plan !== undefined && parsed.plan !== plan)) continue;
      out.push({
        source,
        plan: parsed.plan,
        runId: parsed.runId,
        time: runIdTime(parsed.runId),
        snap,
      });
    }
    return out;
  }

  private runsOf(snaps: readonly TargetSnapshot[]): RunGroup<TargetSnapshot>[] {
    return groupRuns(snaps, (s) => s.snap.createtxg);
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

  /**
   * Receives a run's snapshots into the dataset `target` on this machine (one source), or into
   * `target/<escaped source>` (several): `zfs send <target snapshot> | zfs receive`.
   */
  async restore(req: RestoreRequest): Promise<void> {
    if (req.target.startsWith("/") || !/^[A-Za-z0-9][\w.:-]*(\/[\w.:-]+)*$/.test(req.target)) {
      throw new UsageError(
        `restore: for a zfs repository, --target names the dataset to receive into (like pool/restore), not "${req.target}"`,
      );
    }
    const chosen = pickRun(
      this.runsOf(await this.targetSnapshots(req.plan, req.signal)),
      req.snapshot,
      `repository "${this.repoName}"`,
    );
    const snaps = chosen.snaps.filter(
      (s) => req.paths.length === 0 || req.paths.includes(s.source),
    );
    if (snaps.length === 0) {
      throw new UsageError(
        `snapshot ${chosen.runId} holds none of ${req.paths.join(", ")} (it holds ${chosen.snaps.map((s) => s.source).join(", ")})`,
      );
    }
    const [local] = await Promise.all([replicationCapabilities(localHost)]);
    if (snaps.length > 1) await run("zfs", ["create", "-p", req.target]);
    for (const s of snaps) {
      const dest = snaps.length === 1 ? req.target : `${req.target}/${escapeSourceName(s.source)}`;
      const exists =
        (await run("zfs", ["list", "-H", "-o", "name", dest], { reject: false })).exitCode === 0;
      if (exists && !req.overwrite)
        throw new UsageError(`restore: dataset ${dest} exists already`, {
          hint: "choose another --target, or add --overwrite",
        });
      await pipeline(
        [
          this.host.command(["zfs", "send", s.snap.name]),
          {
            file: "zfs",
            args: [
              "receive",
              ...(exists && local.receiveForce ? ["-F"] : []),
              ...(local.receiveNoMount ? ["-u"] : []),
              dest,
            ],
          },
        ],
        { signal: req.signal, killGraceMs: 5_000 },
      );
    }
  }

  async forget(req: ForgetRequest): Promise<ForgetReport> {
    const rules = effectiveRules(this.repo, req.rules);
    const [, targetCaps] = await this.capabilities();
    await using _lock = req.dryRun
      ? { [Symbol.asyncDispose]: () => Promise.resolve() }
      : await acquireTargetLock(
          this.host,
          this.lockFile,
          `repository "${this.repoName}" (${this.where})`,
        );
    const pins = await readPins(this.stateDir, this.repoName, req.plan);
    const snaps = await this.targetSnapshots(req.plan, req.signal);
    const report: ForgetReport = { keep: [], remove: [] };
    for (const source of new Set(snaps.map((s) => s.source))) {
      const own = snaps.filter((s) => s.source === source);
      const main = targetDatasetFor(this.repo.dataset, source);
      const newest = own
        .filter((s) => s.snap.dataset === main)
        .sort((a, b) => b.snap.createtxg - a.snap.createtxg)[0];
      const pinned = pins[source];
      const protect = new Set([
        ...own
          .filter((s) => pinned !== undefined && s.snap.guid === pinned.sendId)
          .map((s) => s.snap.name),
        ...(newest ? [newest.snap.name] : []),
      ]);
      const choice = await applyZfsTargetRetention(
        this.host,
        this.repo.dataset,
        source,
        req.plan,
        rules,
        protect,
        req.dryRun,
        () => undefined,
        targetCaps,
      );
      const entry = (runId: string, time: Date, reasons: string[]): RetainedSnapshot => ({
        ...snapshotEntry(req.plan, runId, time, [source]),
        reasons,
      });
      for (const k of choice.keep) report.keep.push(entry(k.item.runId, k.item.time, k.reasons));
      for (const r of choice.remove) report.remove.push(entry(r.runId, r.time, []));
    }
    return report;
  }

  /** Structure only: reachable, and no dataset left without a snapshot by an interrupted transfer. */
  async check(req: { readData?: string; signal: AbortSignal }): Promise<RepositoryCheckReport> {
    await this.prepare(req.signal);
    const all = await listZfsSnapshots(this.host, this.repo.dataset, {
      recursive: true,
      signal: req.signal,
    });
    const errors: string[] = [];
    for (const d of all.datasets) {
      if (d === this.repo.dataset || sourceOfTargetDataset(this.repo.dataset, d) === undefined)
        continue;
      if (!all.snaps.some((s) => s.dataset === d))
        errors.push(
          `${d}: no snapshot (an interrupted first transfer; the next backup removes it)`,
        );
    }
    return { ok: errors.length === 0, errors };
  }

  sampleFiles(): Promise<{ files: BackupFile[]; total: number }> {
    return Promise.reject(this.noFiles());
  }

  restoreFiles(_req: RestoreFilesRequest): Promise<RestoreFilesResult> {
    return Promise.reject(this.noFiles());
  }

  private noFiles(): SnapbackError {
    return new SnapbackError(
      `repository "${this.repoName}" is a ZFS replication target: single files are not read from it (restore a whole snapshot with snapback restore)`,
    );
  }
}
