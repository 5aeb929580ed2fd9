import { log } from "../../log.js";
import { FileLock, lockDir } from "../../core/lock.js";
import { RepositoryLocks, waitingMessage } from "../../core/repo-lock.js";
import type { RunState, RunStep } from "./types.js";

/**
 * The plan's lock, then the locks of its repositories (plans sharing one take turns), held
 * until the run has reported. A lock held by a live run throws LockedError (exit 4): the run
 * never started. Stale locks removed on the way are reported by `start`, once it has.
 */
export const lock: RunStep<RunState, { staleLocks: string[] }> = {
  name: "lock",
  async run({ p, engines, signal, lockWaitMs }, unwind) {
    const staleLocks: string[] = [];
    const planLock = await FileLock.acquire(
      lockDir(p.stateDir),
      `plan-${p.planName}`,
      `plan "${p.planName}"`,
      {
        plan: p.planName,
        waitMs: lockWaitMs,
        signal,
        onWait: (owner) =>
          log.info(
            `plan "${p.planName}" is running (pid ${owner.pid}, since ${owner.since}): waiting for it to finish`,
          ),
        onStale: (owner) =>
          staleLocks.push(
            `removed the stale lock of a dead run (pid ${owner.pid}, since ${owner.since})`,
          ),
      },
    );
    unwind.defer(`releasing the lock of plan "${p.planName}"`, () => planLock.release());
    const repoLocks = await RepositoryLocks.acquire(
      p.stateDir,
      p.planName,
      engines.map((e) => e.repoName),
      {
        signal,
        onWait: (holder, repo) => log.info(waitingMessage(holder, repo)),
        onStale: (holder, repo) =>
          staleLocks.push(
            `removed the stale lock of repository ${repo} left by a dead run (pid ${holder.pid}, since ${holder.since})`,
          ),
      },
    );
    unwind.defer("releasing the repository locks", () => repoLocks.release());
    return { staleLocks };
  },
};
