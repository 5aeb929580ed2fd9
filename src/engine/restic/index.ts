import type { Repository } from "../../config/schema.js";
import type { RepositorySecrets } from "../../config/secrets.js";
import type { BackupRequest, BackupSummary, EngineSnapshot } from "../types.js";
import { backup } from "./backup.js";
import { probeRestic, type ResticBinary } from "./binary.js";
import type { ResticOptions } from "./command.js";
import { ensureRepository, type EnsureResult } from "./repository.js";
import { restore, type RestoreRequest, type RestoreResult } from "./restore.js";
import { listSnapshots, type ListSnapshotsOptions } from "./snapshots.js";

export { backup, backupArgs, type BackupOptions } from "./backup.js";
export {
  probeRestic,
  parseResticVersion,
  parseFeatures,
  versionAtLeast,
  type ResticBinary,
  type ResticVersion,
} from "./binary.js";
export {
  runRestic,
  resticRepository,
  optionArgs,
  DEFAULT_KILL_GRACE_MS,
  type ResticOptions,
  type ResticRunOptions,
  type ResticTarget,
} from "./command.js";
export { resticEnv, displayUrl, secretValues, usedFeatures, missingFeatureNote } from "./env.js";
export {
  ResticError,
  classifyFailure,
  failureKind,
  lockHolderFromStderr,
  type ResticErrorKind,
} from "./errors.js";
export {
  clearStaleLocks,
  describeHolder,
  ensureNotLocked,
  judgeLock,
  listLocks,
  lockedBy,
  parseLock,
  STALE_LOCK_AGE_MS,
  type ClearedLocks,
  type ClearLocksOptions,
  type LockVerdict,
  type ResticLock,
} from "./locks.js";
export { parseBackupLine, describeError, type BackupMessage } from "./messages.js";
export { ensureRepository, type EnsureResult } from "./repository.js";
export {
  restore,
  resolveSnapshot,
  parseLsNode,
  type RestoreRequest,
  type RestoreResult,
} from "./restore.js";
export {
  listSnapshots,
  listTargetSnapshots,
  parseSnapshots,
  planTag,
  planFromTags,
  type ListSnapshotsOptions,
} from "./snapshots.js";

/** The restic engine with its binary and cache directory fixed, for callers that hold one. */
export class Restic {
  constructor(readonly options: { cacheDir: string; resticPath?: string; killGraceMs?: number }) {}

  probe(): Promise<ResticBinary> {
    return probeRestic(this.options.resticPath);
  }

  ensureRepository(
    repoName: string,
    repo: Repository,
    secrets: RepositorySecrets,
    init: boolean,
    options: ResticOptions = {},
  ): Promise<EnsureResult> {
    return ensureRepository(repoName, repo, secrets, init, { ...this.defaults(), ...options });
  }

  backup(req: BackupRequest): Promise<BackupSummary> {
    return backup(req, this.defaults());
  }

  listSnapshots(
    repoName: string,
    repo: Repository,
    secrets: RepositorySecrets,
    options: ListSnapshotsOptions = {},
  ): Promise<EngineSnapshot[]> {
    return listSnapshots(repoName, repo, secrets, { ...this.defaults(), ...options });
  }

  restore(req: RestoreRequest): Promise<RestoreResult> {
    return restore({ ...this.defaults(), ...req });
  }

  private defaults(): { cacheDir: string; resticPath?: string; killGraceMs?: number } {
    const { cacheDir, resticPath, killGraceMs } = this.options;
    return {
      cacheDir,
      ...(resticPath === undefined ? {} : { resticPath }),
      ...(killGraceMs === undefined ? {} : { killGraceMs }),
    };
  }
}
