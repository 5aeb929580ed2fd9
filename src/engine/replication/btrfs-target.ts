import { mkdir, statfs } from "node:fs/promises";
import { basename, isAbsolute, join, relative } from "node:path";
import type { BtrfsRepository } from "../../config/schema.js";
import { errorMessage, SnapbackError, UsageError } from "../../errors.js";
import { pipeline, run } from "../../exec/index.js";
import { isBtrfsPlanDetail } from "../../snapshot/btrfs/plan.js";
import { parseSnapshotName } from "../../snapshot/btrfs/naming.js";
import { deleteSubvolume, isSubvolume } from "../../snapshot/btrfs/subvolume.js";
import type { TakenSnapshot } from "../../core/snapshot.js";
import { isUnder } from "../../util/paths.js";
import type {
  BackupFile,
  RepositoryCheckReport,
  RepositoryEngine,
  RestoreFilesRequest,
  RestoreFilesResult,
  RestoreRequest,
  ViewBackupRequest,
} from "../types.js";
import { listSnapbackSubvolumes, type SubvolumeInfo } from "./btrfs-show.js";
import {
  applyTargetRetention,
  isComplete,
  replicateBtrfsSnapshot,
  targetDirFor,
} from "./btrfs-replicate.js";
import {
  mtimeNs,
  nextParents,
  ReplicationEngine,
  sample,
  type ReplicationItem,
  type RetentionPass,
  type SourceRetention,
  targetSnapshotOf,
  type TargetKind,
  type TargetSnapshotBase,
  type TransferRecord,
} from "./engine-base.js";
import { escapeSourceName, unescapeSourceName } from "./naming.js";

/** A snapshot on the target, with the source subvolume its directory stands for. */
type TargetSnapshot = TargetSnapshotBase & { info: SubvolumeInfo };

const LOCK_FILE = ".snapback.lock";
/** statfs(2) f_type of btrfs. */
const BTRFS_SUPER_MAGIC = 0x9123683e;
const BTRFS: TargetKind = { tool: "btrfs", parentFlag: "-p", label: "btrfs", units: "subvolumes" };

/**
 * A btrfs replication target (`engine = "btrfs"`): a directory on a btrfs filesystem, here or
 * on another machine through ssh, that receives every btrfs snapshot of a run with
 * `btrfs send | btrfs receive`, incrementally from the newest snapshot both sides share.
 * Layout: `<path>/<escaped source subvolume>/snapback@<plan>@<run>@<n>`.
 */
export class BtrfsTargetEngine
  extends ReplicationEngine<TargetSnapshot>
  implements RepositoryEngine
{
  readonly engine = "btrfs" as const;
  protected readonly kind = BTRFS;

  constructor(
    repoName: string,
    private readonly repo: BtrfsRepository,
    stateDir: string,
  ) {
    super(repoName, repo, stateDir, repo.path);
  }

  protected get lockFile(): string {
    return join(this.repo.path, LOCK_FILE);
  }

  async prepare(signal: AbortSignal): Promise<void> {
    // On this machine one statfs says it; btrfs-progs is here, the source snapshots were taken
    // with it. Anything else takes the long way, which names what is wrong.
    if (!this.host.remote) {
      const here = await statfs(this.repo.path).catch(() => undefined);
      if (here?.type === BTRFS_SUPER_MAGIC) return;
    }
    const fs = await this.host.run(["stat", "-f", "-c", "%T", this.repo.path], {
      reject: false,
      signal,
    });
    if (fs.exitCode !== 0) {
      throw new SnapbackError(`repositories.${this.repoName}.path: ${this.where} does not exist`, {
        hint: "mount the backup disk, or create the directory on a btrfs filesystem",
      });
    }
    const type = fs.stdout.trim();
    if (type !== "btrfs") {
      throw new SnapbackError(
        `repositories.${this.repoName}.path: ${this.where} is on ${type || "an unknown filesystem"}, not btrfs`,
      );
    }
    const tools = await this.host.run(["btrfs", "--version"], { reject: false, signal });
    if (tools.exitCode !== 0) {
      throw new SnapbackError(
        `btrfs-progs is not installed on ${this.host.label} (repository "${this.repoName}")`,
      );
    }
  }

  protected receiveInto(path: string): string {
    return targetDirFor(this.repo.path, path);
  }

  protected itemsOf(t: TakenSnapshot): ReplicationItem[] | undefined {
    if (t.plan.kind !== "btrfs" || !isBtrfsPlanDetail(t.plan.detail)) return undefined;
    return t.plan.detail.snapshots.map((s) => ({
      source: s.subvolume,
      snapshot: s.snapshot,
      runId: parseSnapshotName(basename(s.snapshot))?.runId ?? "",
    }));
  }

  protected sender(
    req: ViewBackupRequest,
    runId: string,
  ): Promise<(item: ReplicationItem) => Promise<TransferRecord>> {
    const r = { ...this.replicationOf(req, runId), targetRoot: this.repo.path };
    return Promise.resolve((item) => replicateBtrfsSnapshot(r, item.source, item.snapshot));
  }

  /** Every snapback snapshot below `path`, complete or not. */
  private async listAll(
    signal?: AbortSignal,
  ): Promise<{ dir: string; source: string; snaps: SubvolumeInfo[] }[]> {
    const r = await this.host.run(
      [
        "sh",
        "-c",
        'for d in "$1"/*/; do [ -d "$d" ] && printf "%s\\n" "${d%/}"; done',
        "sh",
        this.repo.path,
      ],
      signal ? { signal } : {},
    );
    const out: { dir: string; source: string; snaps: SubvolumeInfo[] }[] = [];
    for (const dir of r.stdout.split("\n").filter(Boolean)) {
      const source = unescapeSourceName(basename(dir), true);
      if (source === undefined) continue;
      out.push({ dir, source, snaps: await listSnapbackSubvolumes(this.host, dir, signal) });
    }
    return out;
  }

  protected async targetSnapshots(plan?: string, signal?: AbortSignal): Promise<TargetSnapshot[]> {
    const out: TargetSnapshot[] = [];
    for (const d of await this.listAll(signal)) {
      for (const info of d.snaps) {
        const parsed = isComplete(info) ? parseSnapshotName(info.name) : undefined;
        const t = targetSnapshotOf(d.source, parsed, plan, info.genAtCreation, { info });
        if (t) out.push(t);
      }
    }
    return out;
  }

  /**
   * Receives a run's snapshots back into `target` (on this machine) as read-only subvolumes,
   * `btrfs send <target snapshot> | btrfs receive <dir>`; with `writable`, also a writable
   * snapshot of each named after its source (`home` for /home).
   */
  async restore(req: RestoreRequest): Promise<void> {
    const chosen = await this.pickRun(req.snapshot, req.plan, req.signal);
    const snaps = chosen.snaps.filter(
      (s) =>
        req.paths.length === 0 ||
        req.paths.some((p) => isUnder(p, s.source) || isUnder(s.source, p)),
    );
    if (snaps.length === 0) {
      throw new UsageError(
        `snapshot ${chosen.runId} holds none of ${req.paths.join(", ")} (it holds ${chosen.snaps.map((s) => s.source).join(", ")})`,
      );
    }
    await mkdir(req.target, { recursive: true });
    const fstype = (await run("stat", ["-f", "-c", "%T", req.target])).stdout.trim();
    if (fstype !== "btrfs")
      throw new UsageError(
        `restore: --target ${req.target} is on ${fstype}, not btrfs: a btrfs snapshot can only be received on btrfs`,
      );
    // Every name is checked (or cleared) first: a refusal must not leave half a restore.
    for (const s of snaps) {
      await this.makeRoom(join(req.target, s.info.name), req.overwrite);
      if (req.writable)
        await this.makeRoom(join(req.target, escapeSourceName(s.source)), req.overwrite);
    }
    for (const s of snaps) {
      const received = join(req.target, s.info.name);
      await pipeline(
        [
          this.host.command(["btrfs", "send", s.info.path]),
          { file: "btrfs", args: ["receive", req.target] },
        ],
        { signal: req.signal, killGraceMs: 5_000 },
      );
      if (req.writable) {
        await run("btrfs", [
          "subvolume",
          "snapshot",
          received,
          join(req.target, escapeSourceName(s.source)),
        ]);
      }
    }
  }

  /** An existing path is refused, or with --overwrite removed if it is a subvolume we made. */
  private async makeRoom(path: string, overwrite: boolean): Promise<void> {
    const exists = await run("test", ["-e", path], { reject: false });
    if (exists.exitCode !== 0) return;
    if (!overwrite)
      throw new UsageError(`restore: ${path} exists already`, {
        hint: "choose another --target, or add --overwrite",
      });
    if (!(await isSubvolume(path)))
      throw new UsageError(
        `restore: ${path} exists and is not a btrfs subvolume; not overwriting it`,
      );
    await deleteSubvolume(path);
  }

  protected async retainPerSource({ req, rules, pins }: RetentionPass): Promise<SourceRetention[]> {
    const out: SourceRetention[] = [];
    for (const d of await this.listAll(req.signal)) {
      const complete = d.snaps.filter(isComplete);
      const own = complete.filter((s) => parseSnapshotName(s.name)?.plan === req.plan);
      const protect = nextParents(own, own, pins[d.source], {
        name: (s) => s.name,
        sendId: (s) => s.receivedUuid ?? "",
        order: (s) => s.genAtCreation,
      });
      const choice = await applyTargetRetention(
        this.host,
        d.dir,
        req.plan,
        rules,
        protect,
        req.dryRun,
        () => undefined,
        complete,
      );
      out.push({ source: d.source, ...choice });
    }
    return out;
  }

  /** Structure only: every snapshot complete, the target reachable. Data is btrfs scrub's job. */
  async check(req: { readData?: string; signal: AbortSignal }): Promise<RepositoryCheckReport> {
    await this.prepare(req.signal);
    const errors: string[] = [];
    for (const d of await this.listAll(req.signal)) {
      for (const s of d.snaps) {
        if (!isComplete(s))
          errors.push(
            `${s.path}: incomplete (an interrupted transfer; the next backup removes it)`,
          );
      }
    }
    return { ok: errors.length === 0, errors };
  }

  async sampleFiles(
    snapshotId: string,
    count: number,
    signal: AbortSignal,
  ): Promise<{ files: BackupFile[]; total: number }> {
    const chosen = await this.pickRun(snapshotId, undefined, signal);
    const files: BackupFile[] = [];
    for (const s of chosen.snaps) {
      const r = await this.host.run(
        ["find", s.info.path, "-type", "f", "-printf", "%s %T@ %P\\0"],
        { signal },
      );
      for (const rec of r.stdout.split("\0")) {
        const m = /^(\d+) (\d+(?:\.\d+)?) (.+)$/s.exec(rec);
        if (!m?.[1] || !m[2] || !m[3]) continue;
        files.push({ path: join(s.source, m[3]), size: Number(m[1]), mtimeNs: mtimeNs(m[2]) });
      }
    }
    return { files: sample(files, count), total: files.length };
  }

  async restoreFiles(req: RestoreFilesRequest): Promise<RestoreFilesResult> {
    const chosen = await this.pickRun(req.snapshotId, undefined, req.signal);
    const errors: string[] = [];
    // Most specific source first: a nested subvolume's files are in its own snapshot.
    const bySource = [...chosen.snaps].sort((a, b) => b.source.length - a.source.length);
    const groups = new Map<TargetSnapshot, string[]>();
    for (const p of req.paths) {
      const s = bySource.find((x) => isAbsolute(p) && isUnder(p, x.source) && p !== x.source);
      if (!s) {
        errors.push(`${p}: not in snapshot ${chosen.runId}`);
        continue;
      }
      groups.set(s, [...(groups.get(s) ?? []), relative(s.source, p)]);
    }
    for (const [s, rels] of groups) {
      const dest = join(req.target, s.source);
      await mkdir(dest, { recursive: true });
      try {
        await pipeline(
          [
            // pax keeps nanosecond mtimes (the default format rounds them to seconds).
            this.host.command([
              "tar",
              "--format=posix",
              "--numeric-owner",
              "-C",
              s.info.path,
              "-cf",
              "-",
              "--",
              ...rels,
            ]),
            { file: "tar", args: ["--numeric-owner", "-C", dest, "-xpf", "-"] },
          ],
          { signal: req.signal },
        );
      } catch (e) {
        errors.push(`restoring ${rels.length} file(s) of ${s.source} failed: ${errorMessage(e)}`);
      }
    }
    return { errors };
  }
}
