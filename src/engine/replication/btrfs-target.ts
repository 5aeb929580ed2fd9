import { mkdir } from "node:fs/promises";
import { basename, isAbsolute, join, relative } from "node:path";
import type { BtrfsRepository } from "../../config/schema.js";
import { errorMessage, SnapbackError, UsageError } from "../../errors.js";
import { pipeline, run } from "../../exec/index.js";
import { isBtrfsPlanDetail } from "../../snapshot/btrfs/plan.js";
import { parseSnapshotName } from "../../snapshot/btrfs/naming.js";
import { deleteSubvolume, isSubvolume } from "../../snapshot/btrfs/subvolume.js";
import { isUnder } from "../../util/paths.js";
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
import { listSnapbackSubvolumes, type SubvolumeInfo } from "./btrfs-show.js";
import {
  applyTargetRetention,
  isComplete,
  replicateBtrfsSnapshot,
  targetDirFor,
} from "./btrfs-replicate.js";
import {
  effectiveRules,
  mtimeNs,
  groupRuns,
  pickRun,
  type RunGroup,
  ReplicationEngine,
  replicationSummary,
  sample,
  snapshotEntry,
  targetHost,
} from "./engine-base.js";
import { escapeSourceName, runIdTime, unescapeSourceName } from "./naming.js";
import { readPins } from "./pins.js";
import { planRules } from "./retention.js";
import { acquireTargetLock } from "./target-lock.js";

/** A snapshot on the target, with the source subvolume its directory stands for. */
interface TargetSnapshot {
  source: string;
  plan: string;
  runId: string;
  time: Date | undefined;
  info: SubvolumeInfo;
}

const LOCK_FILE = ".snapback.lock";

/**
 * A btrfs replication target (`engine = "btrfs"`): a directory on a btrfs filesystem, here or
 * on another machine through ssh, that receives every btrfs snapshot of a run with
 * `btrfs send | btrfs receive`, incrementally from the newest snapshot both sides share.
 * Layout: `<path>/<escaped source subvolume>/snapback@<plan>@<run>@<n>`.
 */
export class BtrfsTargetEngine extends ReplicationEngine implements RepositoryEngine {
  readonly engine = "btrfs" as const;

  constructor(
    repoName: string,
    private readonly repo: BtrfsRepository,
    stateDir: string,
  ) {
    super(repoName, stateDir, targetHost(repoName, repo));
  }

  private get where(): string {
    return this.host.remote ? `${this.host.label}:${this.repo.path}` : this.repo.path;
  }

  async prepare(signal: AbortSignal): Promise<void> {
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

  describeBackup(req: Parameters<RepositoryEngine["describeBackup"]>[0]): string {
    const receive = `${this.host.remote ? `ssh ${this.host.label} ` : ""}btrfs receive`;
    return req.paths
      .map(
        (p) =>
          `btrfs send [-p <newest snapshot on both sides>] <btrfs snapshot of ${p}> | ${receive} ${targetDirFor(this.repo.path, p)}`,
      )
      .join("\n");
  }

  async backup(req: ViewBackupRequest): Promise<BackupSummary> {
    const started = performance.now();
    const items: { subvolume: string; snapshot: string }[] = [];
    for (const t of req.snapshots) {
      if (t.plan.kind !== "btrfs" || !isBtrfsPlanDetail(t.plan.detail)) {
        req.onWarning(
          `${t.plan.sources.join(", ")} ${t.plan.kind === "none" ? "is not on a snapshot-capable filesystem" : `is on ${t.plan.kind}`}: ` +
            `a btrfs target can only receive btrfs snapshots, so it is not replicated to "${this.repoName}"`,
        );
        continue;
      }
      for (const s of t.plan.detail.snapshots)
        items.push({ subvolume: s.subvolume, snapshot: s.snapshot });
    }
    if (items.length === 0) {
      throw new SnapbackError(
        `nothing to replicate to "${this.repoName}": the plan has no btrfs source`,
      );
    }
    const runId = parseSnapshotName(basename(items[0]?.snapshot ?? ""))?.runId ?? "";

    await using _lock = await acquireTargetLock(
      this.host,
      join(this.repo.path, LOCK_FILE),
      `repository "${this.repoName}" (${this.where})`,
    );
    const failures: string[] = [];
    for (const item of items) {
      if (req.signal.aborted) throw new SnapbackError("interrupted");
      try {
        const t = await replicateBtrfsSnapshot(
          {
            host: this.host,
            targetRoot: this.repo.path,
            planName: req.planName,
            runId,
            repoName: this.repoName,
            stateDir: this.stateDir,
            otherRepos: req.plan.repositories.filter((r) => r !== this.repoName),
            rules: effectiveRules(this.repo, planRules(req.plan)),
            localSnapshots: req.plan.retention?.local_snapshots ?? 0,
            signal: req.signal,
            warn: req.onWarning,
          },
          item.subvolume,
          item.snapshot,
        );
        this.transfers.push(t);
      } catch (e) {
        if (req.signal.aborted) throw e;
        failures.push(errorMessage(e));
      }
    }
    if (failures.length > 0) {
      throw new SnapbackError(
        failures.length === 1
          ? (failures[0] ?? "")
          : `${failures.length} subvolumes were not replicated:\n  ${failures.join("\n  ")}`,
      );
    }
    return replicationSummary(runId, items.length, started);
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

  private async targetSnapshots(plan?: string, signal?: AbortSignal): Promise<TargetSnapshot[]> {
    const out: TargetSnapshot[] = [];
    for (const d of await this.listAll(signal)) {
      for (const info of d.snaps) {
        const parsed = parseSnapshotName(info.name);
        if (!parsed || !isComplete(info) || (plan !== undefined && parsed.plan !== plan)) continue;
        out.push({
          source: d.source,
          plan: parsed.plan,
          runId: parsed.runId,
          time: runIdTime(parsed.runId),
          info,
        });
      }
    }
    return out;
  }

  private runsOf(snaps: readonly TargetSnapshot[]): RunGroup<TargetSnapshot>[] {
    return groupRuns(snaps, (s) => s.info.genAtCreation);
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
   * Receives a run's snapshots back into `target` (on this machine) as read-only subvolumes,
   * `btrfs send <target snapshot> | btrfs receive <dir>`; with `writable`, also a writable
   * snapshot of each named after its source (`home` for /home).
   */
  async restore(req: RestoreRequest): Promise<void> {
    const runs = this.runsOf(await this.targetSnapshots(req.plan, req.signal));
    const chosen = pickRun(runs, req.snapshot, `repository "${this.repoName}"`);
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

  async forget(req: ForgetRequest): Promise<ForgetReport> {
    const rules = effectiveRules(this.repo, req.rules);
    await using _lock = req.dryRun
      ? { [Symbol.asyncDispose]: () => Promise.resolve() }
      : await acquireTargetLock(
          this.host,
          join(this.repo.path, LOCK_FILE),
          `repository "${this.repoName}" (${this.where})`,
        );
    const pins = await readPins(this.stateDir, this.repoName, req.plan);
    const report: ForgetReport = { keep: [], remove: [] };
    for (const d of await this.listAll(req.signal)) {
      const complete = d.snaps.filter(isComplete);
      const pinned = pins[d.source];
      // The parent of the next send stays: the pinned one, and the newest in case pins were lost.
      const own = complete.filter((s) => parseSnapshotName(s.name)?.plan === req.plan);
      const newest = [...own].sort((a, b) => b.genAtCreation - a.genAtCreation)[0];
      const protect = new Set([
        ...own
          .filter((s) => pinned !== undefined && s.receivedUuid === pinned.sendId)
          .map((s) => s.name),
        ...(newest ? [newest.name] : []),
      ]);
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
      const entry = (runId: string, time: Date, reasons: string[]): RetainedSnapshot => ({
        ...snapshotEntry(req.plan, runId, time, [d.source]),
        reasons,
      });
      for (const k of choice.keep) report.keep.push(entry(k.item.runId, k.item.time, k.reasons));
      for (const r of choice.remove) report.remove.push(entry(r.runId, r.time, []));
    }
    return report;
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
    const chosen = pickRun(
      this.runsOf(await this.targetSnapshots(undefined, signal)),
      snapshotId,
      `repository "${this.repoName}"`,
    );
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
    const chosen = pickRun(
      this.runsOf(await this.targetSnapshots(undefined, req.signal)),
      req.snapshotId,
      `repository "${this.repoName}"`,
    );
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
