import { pinnedSnapshots } from "../engine/replication/pins.js";
import { databasesOf, dumpSelector } from "../databases/index.js";
import type { Plan, Retention } from "../config/schema.js";
import type { KeepRules, RepositoryEngine, RetainedSnapshot } from "../engine/types.js";
import { errorMessage, SnapbackError } from "../errors.js";
import type { SnapshotProvider, TakeContext, TakenSnapshot } from "../core/snapshot.js";
import type { RetentionOutcome } from "../core/events.js";
import { localSnapshotJson, trimLocalSnapshots } from "./local-snapshots.js";
import type { RunPlan } from "../core/plan.js";
import { nextPruneDue, readPruneState, writePruneState } from "./prune-state.js";

/**
 * A plan's retention: restic `forget` with its keep rules, scoped to its own backups from its
 * host, then `prune`; and the local restore points trimmed to `local_snapshots`. Used by
 * `prune` and after every backup of a plan that has a `[plans.X.retention]` table.
 */
export function keepRules(r: Retention | undefined): KeepRules {
  if (!r) return {};
  const rules: KeepRules = {};
  if (r.keep_last) rules.last = r.keep_last;
  if (r.keep_hourly) rules.hourly = r.keep_hourly;
  if (r.keep_daily) rules.daily = r.keep_daily;
  if (r.keep_weekly) rules.weekly = r.keep_weekly;
  if (r.keep_monthly) rules.monthly = r.keep_monthly;
  if (r.keep_yearly) rules.yearly = r.keep_yearly;
  if (r.keep_within) rules.within = r.keep_within;
  return rules;
}

export interface RetainedJson {
  id: string;
  short_id: string;
  time: string;
  host: string;
  paths: string[];
  tags: string[];
  /** The rules that keep it ("daily snapshot", …); empty for removed ones. */
  reasons: string[];
}

export interface RepositoryRetentionReport {
  repository: string;
  host: string;
  keep: RetainedJson[];
  remove: RetainedJson[];
  pruned: boolean;
  /** Why nothing was done (no keep rule). */
  skipped?: string;
  /** Why prune did not run although forget removed backups (`prune_every`). */
  prune_deferred?: string;
  error?: string;
  /** snapback's exit status for `error` (2 wrong password or missing repository, 4 locked, 1 otherwise incl. unreachable). */
  exit_code?: number;
}

export interface PlanRetentionReport {
  plan: string;
  dry_run: boolean;
  repositories: RepositoryRetentionReport[];
  local: {
    keep_runs: number;
    keep: ReturnType<typeof localSnapshotJson>[];
    remove: ReturnType<typeof localSnapshotJson>[];
    /** Snapshot kinds whose provider cannot keep restore points. */
    unsupported: string[];
    errors: string[];
  };
  ok: boolean;
}

export interface PlanRetentionRequest {
  planName: string;
  plan: Plan;
  host: string;
  engines: RepositoryEngine[];
  groups: RunPlan["groups"];
  dryRun: boolean;
  signal: AbortSignal;
  /** The run in progress, whose snapshots are never trimmed here. */
  currentRunId?: string;
  /** Where replication targets record the source snapshots they need as parents. */
  stateDir: string;
  /** After a backup: prune only when `prune_every` says it is due (`snapback prune` always does). */
  honourPruneEvery?: boolean;
}

function forgetExtraArgs(plan: Plan): { extraArgs?: readonly string[] } {
  const extra = plan.extra_args?.forget;
  return extra === undefined ? {} : { extraArgs: extra };
}

export async function applyPlanRetention(req: PlanRetentionRequest): Promise<PlanRetentionReport> {
  const rules = keepRules(req.plan.retention);
  const repositories: RepositoryRetentionReport[] = [];
  for (const engine of req.engines) {
    const report: RepositoryRetentionReport = {
      repository: engine.repoName,
      host: req.host,
      keep: [],
      remove: [],
      pruned: false,
    };
    repositories.push(report);
    if (!hasKeepRules(rules)) {
      // restic would refuse (or, in some versions, forget everything): never ask it.
      report.skipped = req.plan.retention
        ? "no keep_* rule: every backup is kept"
        : "no [retention] table: every backup is kept";
      continue;
    }
    try {
      const r = await engine.forget({
        plan: req.planName,
        host: req.host,
        rules,
        dryRun: req.dryRun,
        signal: req.signal,
        ...forgetExtraArgs(req.plan),
      });
      report.keep = r.keep.map(retainedJson);
      report.remove = r.remove.map(retainedJson);
      // Each database's dumps are their own chain under the same keep rules.
      for (const db of databasesOf(req.plan)) {
        if (engine.engine !== "restic") break;
        const d = await engine.forget({
          plan: req.planName,
          host: req.host,
          tags: dumpSelector(req.planName, db.name),
          rules,
          dryRun: req.dryRun,
          signal: req.signal,
          ...forgetExtraArgs(req.plan),
        });
        report.keep.push(...d.keep.map(retainedJson));
        report.remove.push(...d.remove.map(retainedJson));
        r.remove.push(...d.remove);
      }
      if (!req.dryRun && (req.plan.retention?.prune ?? true))
        await pruneIfDue(engine, req, r.remove.length > 0, report);
    } catch (e) {
      if (req.signal.aborted) throw e;
      report.error = errorMessage(e);
      report.exit_code = e instanceof SnapbackError ? e.exitCode : 1;
    }
  }

  const keepRuns = req.plan.retention?.local_snapshots ?? 0;
  let local: PlanRetentionReport["local"];
  try {
    // A snapshot a replication target needs as its next parent is never trimmed here.
    const pinned = await pinnedSnapshots(req.stateDir, req.planName, req.plan.repositories);
    const trimmed = await trimLocalSnapshots(req.groups, req.planName, keepRuns, {
      pinned,
      dryRun: req.dryRun,
      ...(req.currentRunId === undefined ? {} : { currentRunId: req.currentRunId }),
    });
    local = {
      keep_runs: keepRuns,
      keep: trimmed.keep.map(localSnapshotJson),
      remove: trimmed.remove.map(localSnapshotJson),
      unsupported: keepRuns > 0 ? trimmed.unsupported : [],
      errors: trimmed.errors,
    };
  } catch (e) {
    if (req.signal.aborted) throw e;
    local = {
      keep_runs: keepRuns,
      keep: [],
      remove: [],
      unsupported: [],
      errors: [errorMessage(e)],
    };
  }
  const ok = repositories.every((r) => r.error === undefined) && local.errors.length === 0;
  return { plan: req.planName, dry_run: req.dryRun, repositories, local, ok };
}

/**
 * Prunes what forget removed, now or in earlier runs that deferred it. With `prune_every`
 * (after a backup) only once the repository's last prune is that old: forget is cheap, prune
 * rewrites packs. The time is recorded per repository, since prune is repository-wide.
 */
async function pruneIfDue(
  engine: RepositoryEngine,
  req: PlanRetentionRequest,
  removedNow: boolean,
  report: RepositoryRetentionReport,
): Promise<void> {
  const state = await readPruneState(req.stateDir, engine.repoName);
  if (!removedNow && !state.pending) return;
  const every = req.plan.retention?.prune_every;
  const next =
    every === undefined || req.honourPruneEvery !== true
      ? undefined
      : nextPruneDue(every, state, new Date());
  if (next !== undefined) {
    report.prune_deferred = `prune_every = "${every ?? ""}": last prune ${state.last_prune ?? "?"}, next after ${next.toISOString()}`;
    if (!state.pending)
      await writePruneState(req.stateDir, engine.repoName, { ...state, pending: true });
    return;
  }
  await engine.prune(req.signal);
  report.pruned = true;
  await writePruneState(req.stateDir, engine.repoName, {
    last_prune: new Date().toISOString(),
    pending: false,
  });
}

function retainedJson(s: RetainedSnapshot): RetainedJson {
  return {
    id: s.id,
    short_id: s.shortId,
    time: s.time,
    host: s.host,
    paths: s.paths,
    tags: s.tags,
    reasons: s.reasons,
  };
}

/** Releases a run's snapshot, or keeps it as a restore point when the plan keeps local snapshots and the backup exists. */
export function releaseOrKeep(
  p: RunPlan,
  provider: SnapshotProvider,
  taken: TakenSnapshot,
  ctx: TakeContext,
  backedUp: boolean,
): Promise<void> {
  const keep =
    (p.plan.retention?.local_snapshots ?? 0) > 0 && backedUp && provider.keep !== undefined;
  return keep && provider.keep ? provider.keep(taken, ctx) : provider.release(taken, ctx);
}

export interface AfterBackupRequest {
  run: RunPlan;
  /** The repositories this run has just backed up to. */
  engines: RepositoryEngine[];
  signal: AbortSignal;
  warn: (message: string, repository?: string) => void;
}

/**
 * Retention after a backup (plans with a retention table). It never fails the backup: problems
 * become warnings and the outcome's `error`. Only an interruption is thrown.
 */
export async function retentionAfterBackup(req: AfterBackupRequest): Promise<RetentionOutcome> {
  try {
    const r = await applyPlanRetention({
      planName: req.run.planName,
      plan: req.run.plan,
      host: req.run.host,
      engines: req.engines,
      groups: req.run.groups,
      dryRun: false,
      signal: req.signal,
      currentRunId: req.run.runId,
      stateDir: req.run.stateDir,
      honourPruneEvery: true,
    });
    const errors: string[] = [];
    for (const repo of r.repositories) {
      if (repo.error !== undefined) {
        errors.push(`${repo.repository}: ${repo.error}`);
        req.warn(`retention failed (the backup itself is fine): ${repo.error}`, repo.repository);
      }
    }
    for (const e of r.local.errors) {
      errors.push(e);
      req.warn(`local snapshot retention: ${e}`);
    }
    for (const kind of r.local.unsupported)
      req.warn(
        `local_snapshots: ${kind} snapshots cannot be kept yet; they were removed after the backup`,
      );
    return {
      removed: sum(r.repositories.map((x) => x.remove.length)),
      kept: sum(r.repositories.map((x) => x.keep.length)),
      pruned: r.repositories.some((x) => x.pruned),
      ...deferredPrune(r.repositories),
      local_removed: r.local.remove.length,
      // The run's own restore point is not counted here: its release step keeps it.
      local_kept: r.local.keep.length,
      ...(errors.length > 0 ? { error: errors.join("; ") } : {}),
    };
  } catch (e) {
    if (req.signal.aborted) throw e;
    req.warn(`retention failed (the backup itself is fine): ${errorMessage(e)}`);
    return {
      removed: 0,
      kept: 0,
      pruned: false,
      local_removed: 0,
      local_kept: 0,
      error: errorMessage(e),
    };
  }
}

/** Whether the rules keep anything in particular: without one, retention must not run at all. */
export function hasKeepRules(rules: KeepRules): boolean {
  return Object.values(rules).some((v) =>
    typeof v === "number" ? v > 0 : typeof v === "string" && v.length > 0,
  );
}

function deferredPrune(repos: RepositoryRetentionReport[]): { prune_deferred?: string } {
  const deferred = repos.flatMap((x) =>
    x.prune_deferred === undefined ? [] : [`${x.repository}: ${x.prune_deferred}`],
  );
  return deferred.length > 0 ? { prune_deferred: deferred.join("; ") } : {};
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
