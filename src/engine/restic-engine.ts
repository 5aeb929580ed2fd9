import type { ResticRepository } from "../config/schema.js";
import type { RepositorySecrets } from "../config/secrets.js";
import { Restic, backupArgs, displayUrl, secretValues, type ResticBinary } from "./restic/index.js";
import type { BackupSummary, EngineSnapshot, RepositoryEngine, RestoreRequest, ViewBackupRequest } from "./types.js";

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
    this.restic = new Restic({ cacheDir });
  }

  async prepare(signal: AbortSignal): Promise<void> {
    await this.restic.ensureRepository(this.repoName, this.repo, this.secrets, this.repo.init, { signal });
  }

  writableDirs(): string[] {
    return [this.cacheDir];
  }

  describeBackup(req: Parameters<RepositoryEngine["describeBackup"]>[0]): string {
    const args = backupArgs({ ...req, repoName: this.repoName, repo: this.repo, secrets: this.secrets } as Parameters<typeof backupArgs>[0]);
    return `RESTIC_REPOSITORY=${displayUrl(this.repo.url)} restic ${args.join(" ")}`;
  }

  backup(req: ViewBackupRequest): Promise<BackupSummary> {
    return this.restic.backup({ ...req, repoName: this.repoName, repo: this.repo, secrets: this.secrets });
  }

  snapshots(plan?: string): Promise<EngineSnapshot[]> {
    return this.restic.listSnapshots(this.repoName, this.repo, this.secrets, plan === undefined ? {} : { planName: plan });
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

  secretValues(): string[] {
    return secretValues(this.repo.url, this.secrets);
  }

  probe(): Promise<ResticBinary> {
    return this.restic.probe();
  }
}
