import type { Config } from "../../config/schema.js";
import { openRepository } from "../../engine/open.js";
import { ResticError } from "../../engine/restic/errors.js";
import type { RepositoryLock } from "../../engine/types.js";
import { errorMessage } from "../../errors.js";
import { log } from "../../log.js";
import { removeStaleLocks } from "../../core/lock.js";
import { describeEntry, reclaimOrphans } from "../../run/reclaim.js";
import { withInterrupts } from "../../core/signals.js";
import { defineCommand } from "../command.js";
import { describeLock } from "./unlock.js";

interface RepositoryLocksCleanup {
  /** Stale restic locks removed (or that would be, on a dry run). */
  locks: (RepositoryLock & { repository: string; reason: string })[];
  /** Repositories whose locks could not be looked at. */
  errors: { repository: string; error: string }[];
}

export const cleanupCommand = defineCommand({
  name: "cleanup",
  summary: "remove what interrupted runs left behind (snapshots, clones, journals, stale locks)",
  description: [
    "Also removes the restic locks that dead processes of this host left in the repositories.",
  ],
  options: {
    "dry-run": { type: "boolean", description: "list what would be removed; remove nothing" },
  },
  examples: [
    { command: "snapback cleanup --dry-run", description: "what a killed run left behind" },
    { command: "snapback cleanup", description: "remove it" },
  ],
  async run({ global, values }, io) {
    const { config } = await io.load(global);
    const dryRun = values["dry-run"] === true;
    const report = await reclaimOrphans(config.state_dir, dryRun);
    const locks = await removeStaleLocks(config.state_dir, dryRun);
    const { value: repoLocks, interruptedBy } = await withInterrupts((signal) =>
      cleanRepositoryLocks(config, dryRun, signal),
    );
    if (interruptedBy) return 130;
    const failed = report.filter((r) => r.error);
    if (global.json) {
      io.printJson({
        dry_run: dryRun,
        removed: report
          .filter((r) => !r.error)
          .map((r) => ({ run_id: r.runId, plan: r.plan, ...r.entry })),
        failed: failed.map((r) => ({ run_id: r.runId, plan: r.plan, ...r.entry, error: r.error })),
        stale_locks: locks,
        restic_locks: repoLocks.locks,
        repository_errors: repoLocks.errors,
      });
    } else {
      const would = dryRun ? "would remove" : "removed";
      for (const r of report) {
        if (r.error)
          log.error(`could not remove ${describeEntry(r.entry)} (run ${r.runId}): ${r.error}`);
        else io.print(`${would} ${describeEntry(r.entry)} (plan ${r.plan}, run ${r.runId})`);
      }
      for (const l of locks) io.print(`${would} stale lock ${l.path} (${l.owner})`);
      for (const l of repoLocks.locks)
        io.print(
          `${would} stale restic lock ${describeLock(l)} in repository ${l.repository}: ${l.reason}`,
        );
      if (
        report.length + locks.length + repoLocks.locks.length === 0 &&
        repoLocks.errors.length === 0
      )
        io.print("nothing to clean up");
    }
    return failed.length > 0 || repoLocks.errors.length > 0 ? 1 : 0;
  },
});

/**
 * Stale restic locks in every repository of the config: a SIGKILLed backup leaves one that
 * makes the next prune or check fail with "locked". Live locks and other hosts' are kept.
 */
async function cleanRepositoryLocks(
  config: Config,
  dryRun: boolean,
  signal: AbortSignal,
): Promise<RepositoryLocksCleanup> {
  const out: RepositoryLocksCleanup = { locks: [], errors: [] };
  for (const [name, repo] of Object.entries(config.repositories)) {
    if (repo.engine !== "restic" || signal.aborted) continue;
    try {
      const engine = await openRepository(config, name);
      const r = await engine.clearLocks?.({ dryRun, force: false, signal });
      for (const { lock, reason } of r?.removed ?? [])
        out.locks.push({ repository: name, ...lock, reason });
    } catch (e) {
      if (signal.aborted) break;
      // Not created yet (`init = true` creates it on the first backup): it holds no locks.
      if (e instanceof ResticError && e.kind === "repo-missing") continue;
      const error = errorMessage(e);
      out.errors.push({ repository: name, error });
      log.error(`repository "${name}": could not look at its restic locks: ${error}`);
    }
  }
  return out;
}
