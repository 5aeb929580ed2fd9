import type { ResticRepository } from "../config/schema.js";
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
  secretValues,
  type ResticBinary,
} from "./restic/index.js";
import type {
  BackupSummary,
  EngineSnapshot,
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

/** A restic repository as a run sees it: secrets bound, cache dir fixed. */
export class ResticEngine implements RepositoryEngine {
  readonly engine = "restic" as const;
  private readonly restic: Restic;

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
   * Opens (or creates) the repository, then removes restic locks left by dead processes; a
   * live exclusive lock (a prune, check or forget running somewhere) fails with exit 4.
   */
  /**
   * Opens the repository once: listing its locks (to clear stale ones) also proves that it
   * exists and that the password is right. Only a missing repository costs a second call,
   * which creates it (`init = true`) or explains how to.
   */
  async prepare(signal: AbortSignal): Promise<void> {
    try {
      await this.clearStaleLocks(signal);
    } catch (e) {
      if (!(e instanceof ResticError) || e.kind !== "repo-missing") throw e;
      await this.restic.ensureRepository(this.repoName, this.repo, this.secrets, this.repo.init, {
        signal,
      });
    }
  }

  private async clearStaleLocks(signal: AbortSignal): Promise<void> {
    await ensureNotLocked(
      { repoName: this.repoName, repo: this.repo, secrets: this.secrets },
      {
        cacheDir: this.cacheDir,
        signal,
        onRemoved: (lock, why) =>
          log.warn(
            `repository "${this.repoName}": removed a stale restic lock${lock.exclusive ? " (exclusive)" : ""} of ${describeHolder(lock)}: ${why}`,
          ),
      },
    );
  }

  writableDirs(): string[] {
    return [this.cacheDir];
  }

  describeBackup(req: Parameters<RepositoryEngine["describeBackup"]>[0]): string {
    const args = backupArgs(req);
    return `RESTIC_REPOSITORY=${displayUrl(this.repo.url)} restic ${[...optionArgs(this.repo), ...args].join(" ")}`;
  }

  backup(req: ViewBackupRequest): Promise<BackupSummary> {
    return this.restic.backup({
      ...req,
      repoName: this.repoName,
      repo: this.repo,
      secrets: this.secrets,
    });
  }

  snapshots(plan?: string): Promise<EngineSnapshot[]> {
    return this.restic.listSnapshots(
      this.repoName,
      this.repo,
      this.secrets,
      plan === undefined ? {} : { planName: plan },
    );
  }

  async restore(req: RestoreRequest): Promise<void> {
    await this.restic.restore({
      planName: req.plan,
      repoName: this.repoName,
      repo: this.repo,
      secrets: this.secrets,
      snapshot: req.snapshot,
      target: req.target,
      include: req.paths,
      overwrite: req.overwrite,
      signal: req.signal,
    });
  }

  forget(req: ForgetRequest): Promise<ForgetReport> {
    return forget(this.target(), {
      planName: req.plan,
      host: req.host,
      rules: req.rules,
      dryRun: req.dryRun,
      ...(req.tags === undefined ? {} : { tags: req.tags }),
      cacheDir: this.cacheDir,
      signal: req.signal,
    });
  }

  prune(signal: AbortSignal): Promise<void> {
    return prune(this.target(), { cacheDir: this.cacheDir, signal });
  }

  check(req: { readData?: string; signal: AbortSignal }): Promise<RepositoryCheckReport> {
    return checkRepository(this.target(), {
      ...(req.readData === undefined ? {} : { readData: req.readData }),
      cacheDir: this.cacheDir,
      signal: req.signal,
    });
  }

  sampleFiles(
    snapshotId: string,
    count: number,
    signal: AbortSignal,
  ): Promise<{ files: BackupFile[]; total: number }> {
    return sampleFiles(this.target(), snapshotId, count, { cacheDir: this.cacheDir, signal });
  }

  restoreFiles(req: RestoreFilesRequest): Promise<RestoreFilesResult> {
    return restoreFiles(this.target(), req, { cacheDir: this.cacheDir, signal: req.signal });
  }

  private target(): { repoName: string; repo: ResticRepository; secrets: RepositorySecrets } {
    return { repoName: this.repoName, repo: this.repo, secrets: this.secrets };
  }

  backupStream(req: StreamBackupRequest): Promise<StreamBackupSummary> {
    return backupStdin(this.target(), req, { cacheDir: this.cacheDir });
  }

  restoreStream(req: StreamRestoreRequest): Promise<StreamRestoreResult> {
    return dumpToSink(this.target(), req, { cacheDir: this.cacheDir });
  }

  snapshotsWithTags(tags: string[], signal?: AbortSignal): Promise<EngineSnapshot[]> {
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
