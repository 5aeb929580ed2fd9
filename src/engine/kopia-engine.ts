import type { RepositorySecrets } from "../config/secrets.js";
import { UsageError } from "../errors.js";
import { commandLine } from "../exec/index.js";
import {
  backup,
  check,
  ensureConnected,
  forget,
  kopiaArgv,
  maintenance,
  planKeepRules,
  policyCommands,
  probeKopia,
  readClientConfig,
  restore,
  restoreFiles,
  sampleFiles,
  secretValues,
  snapshotCreateArgs,
  listSnapshots,
  engineSnapshot,
  type KopiaBinary,
  type KopiaClientConfig,
  type KopiaOptions,
  type KopiaRepository,
  type KopiaTarget,
} from "./kopia/index.js";
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
  StreamBackupRequest,
  StreamBackupSummary,
  StreamRestoreRequest,
  StreamRestoreResult,
  ViewBackupRequest,
} from "./types.js";

export interface KopiaEngineOptions {
  /** KOPIA_LOG_DIR: kopia's log files, kept with snapback's state (live and writable in the view). */
  logDir: string;
  kopiaPath?: string;
  killGraceMs?: number;
}

/** A kopia repository as a run sees it: config file, secrets and log dir bound. */
export class KopiaEngine implements RepositoryEngine {
  readonly engine = "kopia" as const;
  private client: KopiaClientConfig | undefined;

  constructor(
    readonly repoName: string,
    private readonly repo: KopiaRepository,
    private readonly secrets: RepositorySecrets,
    private readonly options: KopiaEngineOptions,
  ) {}

  /** Reads the config file and opens the repository once with the password. */
  async prepare(signal: AbortSignal): Promise<void> {
    this.client = await ensureConnected(this.target(), { ...this.defaults(), signal });
  }

  /** The log dir, and the cache dir the config file names (known after prepare). */
  writableDirs(): string[] {
    return [this.options.logDir, ...(this.client?.cacheDir ? [this.client.cacheDir] : [])];
  }

  describeBackup(req: Parameters<RepositoryEngine["describeBackup"]>[0]): string {
    const policy = policyCommands({
      planName: req.planName,
      plan: req.plan,
      paths: req.paths,
      extraExcludes: req.extraExcludes,
      rules: planKeepRules(req.plan),
    });
    const commands = [policy.clear, ...policy.set, snapshotCreateArgs(req, "RUN")];
    return commands.map((args) => commandLine("kopia", kopiaArgv(this.repo, args))).join(" && ");
  }

  backup(req: ViewBackupRequest): Promise<BackupSummary> {
    return backup(
      { ...req, repoName: this.repoName, repo: this.repo, secrets: this.secrets },
      this.defaults(),
    );
  }

  async snapshots(plan?: string): Promise<EngineSnapshot[]> {
    const list = await listSnapshots(this.target(), {
      ...this.defaults(),
      ...(plan === undefined ? {} : { planName: plan }),
    });
    return list.map(engineSnapshot);
  }

  async restore(req: RestoreRequest): Promise<void> {
    await restore({
      ...this.defaults(),
      planName: req.plan,
      target: this.target(),
      snapshot: req.snapshot,
      dir: req.target,
      include: req.paths,
      overwrite: req.overwrite,
      signal: req.signal,
    });
  }

  /**
   * Writes the rules into the policies of the plan's source paths and expires what they do
   * not keep. kopia only expires the sources of its own client identity (the hostname in the
   * config file), which is therefore the host meant here.
   */
  async forget(req: ForgetRequest): Promise<ForgetReport> {
    const client = this.client ?? (await readClientConfig(this.repoName, this.repo.config_file));
    return forget(this.target(), {
      ...this.defaults(),
      planName: req.plan,
      host: client.hostname ?? req.host,
      rules: req.rules,
      dryRun: req.dryRun,
      signal: req.signal,
    });
  }

  /** `kopia maintenance run --full` (a warning when another client owns maintenance). */
  prune(signal: AbortSignal): Promise<void> {
    return maintenance(this.target(), { ...this.defaults(), signal });
  }

  /**
   * `kopia snapshot verify` of every source in the repository (or of one plan's), reading
   * back a share of the files: `readData` is "all", "N%" or "1/N".
   */
  check(req: {
    readData?: string;
    plan?: string;
    signal: AbortSignal;
  }): Promise<RepositoryCheckReport & { sources: string[] }> {
    return check(this.target(), {
      ...this.defaults(),
      signal: req.signal,
      ...(req.readData === undefined ? {} : { readData: req.readData }),
      ...(req.plan === undefined ? {} : { planName: req.plan }),
    });
  }

  sampleFiles(
    snapshotId: string,
    count: number,
    signal: AbortSignal,
  ): Promise<{ files: BackupFile[]; total: number }> {
    return sampleFiles(this.target(), snapshotId, count, { ...this.defaults(), signal });
  }

  restoreFiles(req: RestoreFilesRequest): Promise<RestoreFilesResult> {
    return restoreFiles(this.target(), req, this.defaults());
  }

  /** Snapshots carrying every one of `tags` (snapback's form: "plan:home", "nightly"), oldest first. */
  async snapshotsWithTags(tags: string[], signal?: AbortSignal): Promise<EngineSnapshot[]> {
    const list = await listSnapshots(this.target(), {
      ...this.defaults(),
      ...(signal ? { signal } : {}),
    });
    return list.filter((s) => tags.every((t) => s.tags.includes(t))).map(engineSnapshot);
  }

  /** Not yet for kopia (it would be `snapshot create --stdin-file`); refused before anything runs. */
  backupStream(req: StreamBackupRequest): Promise<StreamBackupSummary> {
    return Promise.reject(this.noStreams(`backing up ${req.source.label}`));
  }

  restoreStream(req: StreamRestoreRequest): Promise<StreamRestoreResult> {
    return Promise.reject(this.noStreams(`restoring ${req.filename}`));
  }

  private noStreams(what: string): UsageError {
    return new UsageError(
      `repository "${this.repoName}": ${what} needs a stream backup, which snapback does not do with kopia yet`,
      {
        hint: "use a restic repository for database dumps",
      },
    );
  }

  secretValues(): string[] {
    return secretValues(this.secrets);
  }

  probe(): Promise<KopiaBinary> {
    return probeKopia(this.options.kopiaPath);
  }

  private target(): KopiaTarget {
    return { repoName: this.repoName, repo: this.repo, secrets: this.secrets };
  }

  private defaults(): KopiaOptions {
    const { logDir, kopiaPath, killGraceMs } = this.options;
    return {
      logDir,
      ...(kopiaPath === undefined ? {} : { kopiaPath }),
      ...(killGraceMs === undefined ? {} : { killGraceMs }),
    };
  }
}
