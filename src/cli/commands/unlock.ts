import { hostname } from "node:os";
import type { Config } from "../../config/schema.js";
import { openRepository } from "../../engine/open.js";
import type { LocksReport, RepositoryEngine, RepositoryLock } from "../../engine/types.js";
import { errorMessage, SnapbackError, UsageError } from "../../errors.js";
import { log } from "../../log.js";
import { RepositoryLocks } from "../../core/repo-lock.js";
import { withInterrupts } from "../../core/signals.js";
import { defineCommand } from "../command.js";
import { combineExitCodes } from "./plans.js";

export interface UnlockRepositoryReport {
  repository: string;
  removed: (RepositoryLock & { reason: string })[];
  remaining: (RepositoryLock & { why_kept: string })[];
  /** Why the repository was not looked at (an engine without lock files). */
  skipped?: string;
  error?: string;
  exit_code?: number;
}

export const unlockCommand = defineCommand({
  name: "unlock",
  summary: "remove stale restic locks from repositories (--force: every lock)",
  description: [
    "Removes the locks that killed restic processes of this host left (and any lock older than 30 minutes) from the plans' repositories, or from every repository. A live lock, or another host's younger one, is kept and the command exits 4.",
  ],
  positionals: [
    {
      name: "PLAN",
      description: "the plans whose repositories to unlock (default: every repository)",
      optional: true,
      variadic: true,
      complete: "plan",
    },
  ],
  options: {
    repository: {
      type: "string",
      value: "NAME",
      description: "only this repository",
      complete: "repository",
    },
    force: {
      type: "boolean",
      description:
        "remove EVERY lock, also a live one or another host's: only when you know that no restic uses the repository anywhere",
    },
  },
  examples: [
    { command: "snapback unlock", description: "remove stale locks everywhere" },
    {
      command: "snapback unlock --repository nas --force",
      description: "remove every lock of one repository",
    },
  ],
  async run({ global, values, positionals }, io) {
    const { config } = await io.load(global);
    const force = values.force === true;
    const names = selectRepositories(config, positionals, values.repository);
    // Secrets for every repository first: a config problem stops before anything is touched.
    const engines: RepositoryEngine[] = [];
    for (const name of names) engines.push(await openRepository(config, name));

    const { value: reports, interruptedBy } = await withInterrupts(async (signal) => {
      const out: UnlockRepositoryReport[] = [];
      for (const engine of engines) {
        if (signal.aborted) break;
        out.push(await unlockRepository(config, engine, force, signal));
      }
      return out;
    });
    if (interruptedBy) return 130;

    const code = combineExitCodes(
      reports.map((r) => r.exit_code ?? (r.remaining.length > 0 ? 4 : 0)),
    );
    if (global.json) io.printJson({ force, ok: code === 0, repositories: reports });
    else for (const line of describeUnlock(reports)) io.print(line);
    return code;
  },
});

/** The repositories of the named plans (or --repository, or all of them). */
function selectRepositories(config: Config, plans: string[], repository?: string): string[] {
  const defined = Object.keys(config.repositories);
  if (repository !== undefined && !defined.includes(repository))
    throw new UsageError(
      `unlock: --repository "${repository}" is not a configured repository (defined: ${defined.join(", ") || "none"})`,
    );
  if (plans.length === 0) return repository === undefined ? defined : [repository];
  const names = new Set<string>();
  for (const p of plans) {
    const plan = config.plans[p];
    if (!plan)
      throw new UsageError(
        `unknown plan "${p}" (defined: ${Object.keys(config.plans).join(", ") || "none"})`,
      );
    for (const r of plan.repositories)
      if (repository === undefined || r === repository) names.add(r);
  }
  if (repository !== undefined && names.size === 0)
    throw new UsageError(
      `unlock: repository "${repository}" is not used by plan ${plans.map((p) => `"${p}"`).join(", ")}`,
    );
  return [...names];
}

async function unlockRepository(
  config: Config,
  engine: RepositoryEngine,
  force: boolean,
  signal: AbortSignal,
): Promise<UnlockRepositoryReport> {
  const report: UnlockRepositoryReport = {
    repository: engine.repoName,
    removed: [],
    remaining: [],
  };
  if (!engine.clearLocks) {
    report.skipped = `a ${engine.engine} repository keeps no locks to remove`;
    return report;
  }
  try {
    let result: LocksReport;
    if (force) {
      // Never pull the lock from under a snapback run of this machine: that one is not stale.
      await using held = await RepositoryLocks.acquire(
        config.state_dir,
        "unlock",
        [engine.repoName],
        { waitMs: 0, signal },
      );
      void held;
      result = await engine.clearLocks({ dryRun: false, force, signal });
    } else result = await engine.clearLocks({ dryRun: false, force, signal });
    report.removed = result.removed.map(({ lock, reason }) => ({ ...lock, reason }));
    report.remaining = result.remaining.map((l) => ({ ...l, why_kept: whyKept(l) }));
  } catch (e) {
    if (signal.aborted) throw e;
    report.error = errorMessage(e);
    report.exit_code = e instanceof SnapbackError ? e.exitCode : 1;
    log.error(`repository "${engine.repoName}": ${report.error}`);
  }
  return report;
}

function whyKept(lock: RepositoryLock): string {
  return lock.hostname === hostname()
    ? "its process is running on this host"
    : `a lock of another host (${lock.hostname || "?"}) younger than 30 minutes: that host may be running restic`;
}

/** "1a2b3c4d (exclusive) of pid 42 on host h (user root), since …" */
export function describeLock(lock: RepositoryLock): string {
  const user = lock.username ? ` (user ${lock.username})` : "";
  return `${lock.id.slice(0, 8)}${lock.exclusive ? " (exclusive)" : ""} of pid ${lock.pid} on host ${lock.hostname || "?"}${user}, since ${lock.time || "?"}`;
}

export function describeUnlock(reports: UnlockRepositoryReport[]): string[] {
  const lines: string[] = [];
  for (const r of reports) {
    const head = `repository ${r.repository}`;
    if (r.skipped !== undefined) lines.push(`${head}: ${r.skipped}`);
    else if (r.error !== undefined) lines.push(`${head}: failed: ${r.error}`);
    else if (r.removed.length + r.remaining.length === 0) lines.push(`${head}: no locks`);
    for (const l of r.removed) lines.push(`${head}: removed lock ${describeLock(l)}: ${l.reason}`);
    for (const l of r.remaining) lines.push(`${head}: kept lock ${describeLock(l)}: ${l.why_kept}`);
    if (r.remaining.length > 0)
      lines.push(
        `  if no restic uses ${r.repository} anywhere, remove them with: snapback unlock --repository ${r.repository} --force`,
      );
  }
  return lines;
}
