import { FileLock, lockDir, type LockOwner } from "./lock.js";

/**
 * Per-repository locks in state_dir. Runs of different plans that share a repository take
 * turns instead of failing: restic would let two backups share it, but a prune or check of
 * one plan would fail the other's run with "repository is locked". Locks are taken in name
 * order, so two plans waiting for each other's repositories cannot deadlock.
 */
export class RepositoryLocks implements AsyncDisposable {
  private constructor(private readonly held: FileLock[]) {}

  static async acquire(
    stateDir: string,
    planName: string,
    repositories: readonly string[],
    options: RepositoryLockOptions = {},
  ): Promise<RepositoryLocks> {
    const held: FileLock[] = [];
    try {
      for (const repo of [...new Set(repositories)].sort()) {
        held.push(
          await FileLock.acquire(
            lockDir(stateDir),
            repositoryLockName(repo),
            `repository "${repo}"`,
            {
              plan: planName,
              waitMs: options.waitMs ?? Number.POSITIVE_INFINITY,
              ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
              ...(options.signal === undefined ? {} : { signal: options.signal }),
              onWait: (owner) => options.onWait?.(owner, repo),
              onStale: (owner) => options.onStale?.(owner, repo),
            },
          ),
        );
      }
    } catch (e) {
      for (const l of held.reverse()) await l.release();
      throw e;
    }
    return new RepositoryLocks(held);
  }

  async release(): Promise<void> {
    for (const l of this.held.reverse()) await l.release();
    this.held.length = 0;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}

export interface RepositoryLockOptions {
  /** Default: wait until `signal` (the holder is alive and will finish). */
  waitMs?: number;
  pollMs?: number;
  signal?: AbortSignal;
  onWait?: (holder: LockOwner, repository: string) => void;
  onStale?: (holder: LockOwner, repository: string) => void;
}

/** Repository names are config keys ([A-Za-z0-9_.-]), safe as file names. */
export function repositoryLockName(repository: string): string {
  return `repo-${repository}`;
}

export function waitingMessage(holder: LockOwner, repository: string): string {
  const who =
    holder.plan === undefined
      ? `another snapback run (pid ${holder.pid})`
      : `plan ${holder.plan} (pid ${holder.pid})`;
  return `waiting for ${who} to finish with repository ${repository}`;
}
