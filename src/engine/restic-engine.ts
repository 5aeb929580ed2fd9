import { access, readdir } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import type { Plan, ResticRepository } from "../config/schema.js";
import type { RepositorySecrets } from "../config/secrets.js";
import { log } from "../log.js";
import {
  ResticError,
  Restic,
  backupArgs,
  describeHolder,
  displayUrl,
  ensureNotLocked,
  optionArgs,
  type ResticLock,
  secretValues,
  type ResticBinary,
} from "./restic/index.js";
import { clearStaleLocks, findStaleLocks, removeAllLocks } from "./restic/locks.js";
import type {
  PrepareOptions,
  BackupSummary,
  ClearLocksRequest,
  EngineSnapshot,
  LocksReport,
  RepositoryEngine,
  RestoreRequest,
  ViewBackupRequest,
} from "./types.js";
import { backupStdin, dumpToSink, listTagged } from "./restic/stdin.js";
import type {
  StreamBackupRequest,
  StreamBackupSummary,
  StreamRestoreRequest,
  StreamRestoreResult,
} from "./types.js";
import {
  planBackupTuningArgs,
  repositoryExtraArgs,
  repositoryTuningArgs,
  withExtraArgs,
} from "./restic/tuning.js";
import { checkRepository, restoreFiles, sampleFiles } from "./restic/check.js";
import { forget, prune } from "./restic/forget.js";
import type {
  BackupFile,
  ForgetReport,
  ForgetRequest,
  RepositoryCheckReport,
  RestoreFilesRequest,
  RestoreFilesResult,
} from "./types.js";

/** Failures of the stale-lock sweep that the command itself would fail with the same way. */
const PASSED_ON = new Set<ResticError["kind"]>([
  "wrong-password",
  "repo-missing",
  "unreachable",
  "killed",
]);

/**
 * A local repository that exists and holds no lock: opening it first would only check the
 * password (~0.5 s of key derivation), which the backup does anyway. Anything else — a remote
 * repository, a missing one (init), a lock to judge — needs the real open.
 */
async function quietLocalRepository(url: string): Promise<boolean> {
  const path = url.startsWith("local:") ? url.slice("local:".length) : url;
  if (!isAbsolute(path)) return false;
  try {
    await access(join(path, "config"));
    return (await readdir(join(path, "locks"))).length === 0;
  } catch {
    return false;
  }
}

/** A restic repository as a run sees it: secrets bound, cache dir fixed. */
export class ResticEngine implements RepositoryEngine {
  readonly engine = "restic" as const;
  private readonly restic: Restic;
  /** Set once stale locks have been cleared (see `unlocked`). */
  private staleLocksCleared: Promise<void> | undefined;

  constructor(
    readonly repoName: string,
    private readonly repo: ResticRepository,
    private readonly secrets: RepositorySecrets,
    private readonly cacheDir: string,
  ) {
    this.restic = new Restic({
      cacheDir,
      ...(repo.restic_binary === undefined ? {} : { resticPath: repo.restic_binary }),
    });
  }

  /**
   * Opens the repository once: listing its locks (to clear stale ones) also proves that it
   * exists and that the password is right. Only a missing repository costs a second call,
   * which creates it (`init = true`) or explains how to. A live exclusive lock (a prune,
   * check or forget running somewhere) fails with exit 4.
   */
  async prepare(signal: AbortSignal, options: PrepareOptions = {}): Promise<void> {
    if (options.mayDefer === true && (await quietLocalRepository(this.repo.url))) return;
    try {
      await this.ensureNotLocked(signal);
    } catch (e) {
      if (!(e instanceof ResticError) || e.kind !== "repo-missing") throw e;
      const { created } = await this.restic.ensureRepository(
        this.repoName,
        this.repo,
        this.secrets,
        this.repo.init,
        { signal },
      );
      if (created)
        log.info(
          `repository "${this.repoName}": created a new restic repository at ${displayUrl(this.repo.url)} (init = true)`,
        );
    }
    this.staleLocksCleared = Promise.resolve();
  }

  private async ensureNotLocked(signal: AbortSignal): Promise<void> {
    await ensureNotLocked(this.target(), {
      cacheDir: this.cacheDir,
      signal,
      onRemoved: (lock, why) => this.reportRemoved(lock, why),
    });
  }

  private reportRemoved(lock: ResticLock, why: string): void {
    log.warn(
      `repository "${this.repoName}": removed a stale restic lock${lock.exclusive ? " (exclusive)" : ""} of ${describeHolder(lock)}: ${why}`,
    );
  }

  /**
   * Every command that opens the repository first removes the stale locks a killed run left
   * (once per engine): otherwise a dead backup's lock makes prune and check fail with
   * "locked" until the next backup. Only the errors that the command itself would hit the
   * same way (wrong password, missing, unreachable, interrupted) are passed on; anything else
   * is left for the command to report in its own words.
   */
  private unlocked(signal?: AbortSignal): Promise<void> {
    this.staleLocksCleared ??= clearStaleLocks(this.target(), {
      cacheDir: this.cacheDir,
      ...(signal === undefined ? {} : { signal }),
      onRemoved: (lock, why) => this.reportRemoved(lock, why),
    }).then(
      () => undefined,
      (e: unknown) => {
        if (e instanceof ResticError && PASSED_ON.has(e.kind)) throw e;
      },
    );
    return this.staleLocksCleared;
  }

  async clearLocks(req: ClearLocksRequest): Promise<LocksReport> {
    const options = { cacheDir: this.cacheDir, signal: req.signal };
    if (req.force) {
      const all = await removeAllLocks(this.target(), options);
      return {
        removed: all.map((lock) => ({ lock, reason: "removed with --force" })),
        remaining: [],
      };
    }
    if (req.dryRun) {
      const { stale, live } = await findStaleLocks(this.target(), options);
      return { removed: stale, remaining: live };
    }
    const removed: LocksReport["removed"] = [];
    const cleared = await clearStaleLocks(this.target(), {
      ...options,
      onRemoved: (lock, reason) => removed.push({ lock, reason }),
    });
    return { removed, remaining: cleared.remaining };
  }

  async checkPlanFlags(planName: string, plan: Plan): Promise<void> {
    if (plan.read_concurrency === undefined) return;
    planBackupTuningArgs(planName, plan, await this.restic.probe());
  }

  writableDirs(): string[] {
    return [this.cacheDir];
  }

  describeBackup(req: Parameters<RepositoryEngine["describeBackup"]>[0]): string {
    const args = withExtraArgs(backupArgs(req), repositoryExtraArgs(this.repo, "backup"));
    const global = [
      ...optionArgs(this.repo),
      ...repositoryTuningArgs(this.repoName, this.repo, undefined),
    ];
    return `RESTIC_REPOSITORY=${displayUrl(this.repo.url)} restic ${[...global, ...args].join(" ")}`;
  }

  backup(req: ViewBackupRequest): Promise<BackupSummary> {
    return this.restic.backup({
      ...req,
      repoName: this.repoName,
      repo: this.repo,
      secrets: this.secrets,
    });
  }

  async snapshots(plan?: string): Promise<EngineSnapshot[]> {
    await this.unlocked();
    return this.restic.listSnapshots(
      this.repoName,
      this.repo,
      this.secrets,
      plan === undefined ? {} : { planName: plan },
    );
  }

  /** A plan's file backups and the snapshots tagged `orTag` (its dumps), in one `restic snapshots`. */
  async planSnapshotsAnd(plan: string, orTag: string): Promise<EngineSnapshot[]> {
    await this.unlocked();
    return this.restic.listSnapshots(this.repoName, this.repo, this.secrets, {
      planName: plan,
      orTags: [orTag],
    });
  }

  async restore(req: RestoreRequest): Promise<void> {
    await this.unlocked(req.signal);
    await this.restic.restore({
      planName: req.plan,
      repoName: this.repoName,
      repo: this.repo,
      secrets: this.secrets,
      snapshot: req.snapshot,
      target: req.target,
      include: req.paths,
      overwrite: req.overwrite,
      ...(req.ifNewer ? { ifNewer: true } : {}),
      signal: req.signal,
      ...(req.extraArgs === undefined ? {} : { restoreExtraArgs: req.extraArgs }),
    });
  }

  async forget(req: ForgetRequest): Promise<ForgetReport> {
    await this.unlocked(req.signal);
    return forget(this.target(), {
      planName: req.plan,
      host: req.host,
      rules: req.rules,
      dryRun: req.dryRun,
      ...(req.tags === undefined ? {} : { tags: req.tags }),
      ...(req.extraArgs === undefined ? {} : { extraArgs: req.extraArgs }),
      cacheDir: this.cacheDir,
      signal: req.signal,
    });
  }

  async prune(signal: AbortSignal): Promise<void> {
    await this.unlocked(signal);
    return prune(this.target(), { cacheDir: this.cacheDir, signal });
  }

  async check(req: { readData?: string; signal: AbortSignal }): Promise<RepositoryCheckReport> {
    await this.unlocked(req.signal);
    return checkRepository(this.target(), {
      ...(req.readData === undefined ? {} : { readData: req.readData }),
      cacheDir: this.cacheDir,
      signal: req.signal,
    });
  }

  async sampleFiles(
    snapshotId: string,
    count: number,
    signal: AbortSignal,
  ): Promise<{ files: BackupFile[]; total: number }> {
    await this.unlocked(signal);
    return sampleFiles(this.target(), snapshotId, count, { cacheDir: this.cacheDir, signal });
  }

  async restoreFiles(req: RestoreFilesRequest): Promise<RestoreFilesResult> {
    await this.unlocked(req.signal);
    return restoreFiles(this.target(), req, { cacheDir: this.cacheDir, signal: req.signal });
  }

  private target(): { repoName: string; repo: ResticRepository; secrets: RepositorySecrets } {
    return { repoName: this.repoName, repo: this.repo, secrets: this.secrets };
  }

  backupStream(req: StreamBackupRequest): Promise<StreamBackupSummary> {
    return backupStdin(this.target(), req, { cacheDir: this.cacheDir });
  }

  async restoreStream(req: StreamRestoreRequest): Promise<StreamRestoreResult> {
    await this.unlocked(req.signal);
    return dumpToSink(this.target(), req, { cacheDir: this.cacheDir });
  }

  async snapshotsWithTags(tags: string[], signal?: AbortSignal): Promise<EngineSnapshot[]> {
    await this.unlocked(signal);
    return listTagged(this.target(), tags, {
      cacheDir: this.cacheDir,
      ...(signal ? { signal } : {}),
    });
  }

  secretValues(): string[] {
    return secretValues(this.repo.url, this.secrets);
  }

  probe(): Promise<ResticBinary> {
    return this.restic.probe();
  }
}
