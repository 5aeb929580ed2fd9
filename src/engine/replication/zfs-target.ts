import type { ZfsRepository } from "../../config/schema.js";
import { SnapbackError, UsageError } from "../../errors.js";
import { pipeline, run } from "../../exec/index.js";
import type { ZfsGroupDetail } from "../../snapshot/zfs/index.js";
import type { TakenSnapshot } from "../../core/snapshot.js";
import type * as E from "../types.js";
import type * as Base from "./engine-base.js";
import { nextParents, ReplicationEngine, targetSnapshotOf } from "./engine-base.js";
import { escapeSourceName, parseZfsSnapshotName } from "./naming.js";
import { localHost } from "./ssh.js";
import { replicationCapabilities, type ZfsReplicationCapabilities } from "./zfs-capabilities.js";
import {
  applyZfsTargetRetention,
  listZfsSnapshots,
  replicateZfsSnapshot,
  sourceOfTargetDataset,
  targetDatasetFor,
  type ZfsSnap,
} from "./zfs-replicate.js";

type TargetSnapshot = Base.TargetSnapshotBase & { snap: ZfsSnap };

const ZFS: Base.TargetKind = { tool: "zfs", parentFlag: "-i", label: "ZFS", units: "datasets" };

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
export class ZfsTargetEngine
  extends ReplicationEngine<TargetSnapshot>
  implements E.RepositoryEngine
{
  readonly engine = "zfs" as const;
  protected readonly kind = ZFS;
  private caps: Promise<[ZfsReplicationCapabilities, ZfsReplicationCapabilities]> | undefined;

  private readonly repo: ZfsRepository;

  constructor(repoName: string, repo: ZfsRepository, stateDir: string) {
    super(repoName, repo, stateDir, repo.dataset);
    this.repo = repo;
  }

  protected get lockFile(): string {
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

  protected receiveInto(): string {
    return `${this.repo.dataset}/<source dataset>`;
  }

  protected itemsOf(t: TakenSnapshot): Base.ReplicationItem[] | undefined {
    const d = zfsDetail(t);
    return d?.datasets.map((ds) => ({
      source: ds,
      snapshot: `${ds}@${d.snapName}`,
      runId: d.runId,
    }));
  }

  protected async sender(
    req: E.ViewBackupRequest,
  ): Promise<(item: Base.ReplicationItem) => Promise<Base.TransferRecord>> {
    const [sourceCaps, targetCaps] = await this.capabilities();
    const r = { container: this.repo.dataset, sourceCaps, targetCaps };
    return (item) =>
      replicateZfsSnapshot(
        { ...this.replicationOf(req, item.runId), ...r },
        item.source,
        item.snapshot,
      );
  }

  protected async targetSnapshots(plan?: string, signal?: AbortSignal): Promise<TargetSnapshot[]> {
    const all = await listZfsSnapshots(this.host, this.repo.dataset, {
      recursive: true,
      ...(signal ? { signal } : {}),
    });
    const out: TargetSnapshot[] = [];
    for (const snap of all.snaps) {
      const source = sourceOfTargetDataset(this.repo.dataset, snap.dataset);
      if (source === undefined) continue;
      const parsed = parseZfsSnapshotName(snap.snap);
      const t = targetSnapshotOf(source, parsed, plan, snap.createtxg, { snap });
      if (t) out.push(t);
    }
    return out;
  }

  /**
   * Receives a run's snapshots into the dataset `target` on this machine (one source), or into
   * `target/<escaped source>` (several): `zfs send <target snapshot> | zfs receive`.
   */
  async restore(req: E.RestoreRequest): Promise<void> {
    if (req.target.startsWith("/") || !/^[A-Za-z0-9][\w.:-]*(\/[\w.:-]+)*$/.test(req.target)) {
      throw new UsageError(
        `restore: for a zfs repository, --target names the dataset to receive into (like pool/restore), not "${req.target}"`,
      );
    }
    const chosen = await this.pickRun(req.snapshot, req.plan, req.signal);
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

  protected async retainPerSource({
    req,
    rules,
    pins,
  }: Base.RetentionPass): Promise<Base.SourceRetention[]> {
    const [, targetCaps] = await this.capabilities();
    const snaps = await this.targetSnapshots(req.plan, req.signal);
    const out: Base.SourceRetention[] = [];
    for (const source of new Set(snaps.map((s) => s.source))) {
      const own = snaps.filter((s) => s.source === source);
      const main = targetDatasetFor(this.repo.dataset, source);
      // The newest of the live chain, not of one renamed aside.
      const protect = nextParents(
        own,
        own.filter((s) => s.snap.dataset === main),
        pins[source],
        { name: (s) => s.snap.name, sendId: (s) => s.snap.guid, order: (s) => s.snap.createtxg },
      );
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
      out.push({ source, ...choice });
    }
    return out;
  }

  /** Structure only: reachable, and no dataset left without a snapshot by an interrupted transfer. */
  async check(req: { readData?: string; signal: AbortSignal }): Promise<E.RepositoryCheckReport> {
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

  sampleFiles(): Promise<{ files: E.BackupFile[]; total: number }> {
    return Promise.reject(this.noFiles());
  }

  restoreFiles(_req: E.RestoreFilesRequest): Promise<E.RestoreFilesResult> {
    return Promise.reject(this.noFiles());
  }

  private noFiles(): SnapbackError {
    return new SnapbackError(
      `repository "${this.repoName}" is a ZFS replication target: single files are not read from it (restore a whole snapshot with snapback restore)`,
    );
  }
}
