import { log } from "../log.js";
import { FileLock, lockDir } from "../core/lock.js";
import { RepositoryLocks, waitingMessage } from "../core/repo-lock.js";

/**
 * The locks `check` and `prune` hold for one plan: the plan's own (a backup of the plan
 * running now fails them with exit 4, as a second backup would) and its repositories' (they
 * wait for other plans' runs to finish with a shared repository, as runs do).
 */
export async function lockPlanForMaintenance(
  stateDir: string,
  planName: string,
  repositories: readonly string[],
  signal: AbortSignal,
  warn: (message: string) => void,
): Promise<AsyncDisposable> {
  const plan = await FileLock.acquire(lockDir(stateDir), `plan-${planName}`, `plan "${planName}"`, {
    plan: planName,
    signal,
    onStale: (owner) =>
      warn(`removed the stale lock of a dead run (pid ${owner.pid}, since ${owner.since})`),
  });
  try {
    const repos = await RepositoryLocks.acquire(stateDir, planName, repositories, {
      signal,
      onWait: (holder, repo) => log.info(waitingMessage(holder, repo)),
      onStale: (holder, repo) =>
        warn(`removed the stale lock of repository ${repo} left by a dead run (pid ${holder.pid})`),
    });
    return {
      async [Symbol.asyncDispose]() {
        await repos.release();
        await plan.release();
      },
    };
  } catch (e) {
    await plan.release();
    throw e;
  }
}
