import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { BackupSummary, RepositoryEngine } from "../engine/types.js";
import { errorMessage, SnapbackError, UsageError } from "../errors.js";
import { probeRestic } from "../engine/restic/index.js";
import { collectIgnorePatterns, writeExcludeFile } from "../ignore/index.js";
import { log } from "../log.js";
import { HookRunner, type RunFacts } from "../hooks/index.js";
import type { TakeContext, TakenSnapshot, ViewBind } from "../snapshot/types.js";
import { viewWrapper, directWrapper } from "../view/wrapper.js";
import { DeferStack } from "./defer.js";
import type { EventSink, ResultEvent, RunStatus, SummaryEvent } from "./events.js";
import { Journal } from "./journal.js";
import { FileLock, lockDir } from "./lock.js";
import { RepositoryLocks, waitingMessage } from "./repo-lock.js";
import type { RunPlan } from "./plan.js";
import { applyRetentionAfterBackup, releaseOrKeep, type AfterBackup } from "./retention.js";
import { releaseUnlessPinned } from "../engine/replication/keep.js";
import type { HistoryStore } from "../history/store.js";
import { LogTail } from "./log-tail.js";
import { progressEvent } from "./progress.js";
import { notifyStart, type NotifyChannel } from "../notify/index.js";
import { firstCause, reportResult } from "./finish.js";
import { dumpDatabases } from "../databases/dump.js";
import { churnWarning, DeviceIdMemory, engineReports, snapshotDeviceIds } from "./engine-report.js";

export interface ApplyContext {
  engines: RepositoryEngine[];
  emit: EventSink;
  /** Where the run is recorded for `snapback status`; optional for library callers. */
  history?: HistoryStore;
  /** Channels told about the start and the end of the run (never fail it). */
  notify?: readonly NotifyChannel[];
  /** Prometheus textfile rewritten after the run. */
  metricsPath?: string;
  /** Aborted on SIGINT/SIGTERM: the engine gets SIGINT, then everything unwinds. */
  signal: AbortSignal;
  /** How long to wait for a running backup of the same plan (`backup --wait`); default 0: exit 4. */
  lockWaitMs?: number;
}

/** The exit code that goes with a finished plan (see errors.ts EXIT). */
export interface AppliedRun {
  result: ResultEvent;
  exitCode: number;
}

/**
 * Carries out a RunPlan: lock, journal, snapshots back to back, the engine in the view for
 * every repository, then unwinds everything in reverse whatever happened.
 */
export async function applyRun(p: RunPlan, outer: ApplyContext): Promise<AppliedRun> {
  const started = performance.now();
  const startedAt = new Date();
  const tail = new LogTail();
  const ctx: ApplyContext = { ...outer, emit: (e) => (tail.record(e), outer.emit(e)) };
  const warnings = [...p.warnings];
  const failed: Record<string, string> = {};
  const failedCodes: number[] = [];
  const summaries: SummaryEvent[] = [];
  let skewMs: number | null = null;
  let fatal: string | undefined;
  let afterBackup: AfterBackup = {};
  const taken: TakenSnapshot[] = [];
  const warn = (message: string, repository?: string): void => {
    warnings.push(repository ? `${repository}: ${message}` : message);
    ctx.emit({ type: "warning", plan: p.planName, ...(repository ? { repository } : {}), message });
  };

  // A run refused by a lock (exit 4) never started: `start` comes after the locks, and the
  // stale locks removed on the way are reported once it has.
  const staleLocks: string[] = [];
  await using lock = await FileLock.acquire(
    lockDir(p.stateDir),
    `plan-${p.planName}`,
    `plan "${p.planName}"`,
    {
      plan: p.planName,
      waitMs: ctx.lockWaitMs ?? 0,
      signal: ctx.signal,
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
  // Plans sharing a repository take turns; held until the run ends, like the plan lock.
  await using repoLocks = await RepositoryLocks.acquire(
    p.stateDir,
    p.planName,
    ctx.engines.map((e) => e.repoName),
    {
      signal: ctx.signal,
      onWait: (holder, repo) => log.info(waitingMessage(holder, repo)),
      onStale: (holder, repo) =>
        staleLocks.push(
          `removed the stale lock of repository ${repo} left by a dead run (pid ${holder.pid}, since ${holder.since})`,
        ),
    },
  );
  void lock;
  void repoLocks;
  ctx.emit({
    type: "start",
    plan: p.planName,
    run_id: p.runId,
    sources: p.sources.map((s) => s.path),
    repositories: p.repositories,
  });
  for (const s of staleLocks) warn(s);
  for (const s of p.notPointInTime)
    warn(`${s} is not on a snapshot-capable filesystem: backed up live, not point-in-time`);
  for (const w of p.warnings) ctx.emit({ type: "warning", plan: p.planName, message: w });
  ctx.history?.startRun({
    runId: p.runId,
    plan: p.planName,
    repositories: p.repositories,
    startedAt,
    pid: process.pid,
  });
  const hooks = new HookRunner(p.planName, p.plan.hooks, {
    onOutput: (line, info) => log.verbose(`hook ${info.name}: ${line}`),
    onWarning: (m) => warn(m),
  });
  const facts: RunFacts = {
    runId: p.runId,
    sources: p.sources.map((s) => s.path),
    repositories: p.repositories,
  };
  const notify = ctx.notify ?? [];
  await notifyStart(notify, {
    plan: p.planName,
    run_id: p.runId,
    sources: facts.sources,
    repositories: p.repositories,
  });
  const journal = await Journal.create(p.stateDir, p.runId, p.planName);
  let unwindFailed = false;
  {
    await using stack = new DeferStack((what, e) => {
      unwindFailed = true;
      warn(
        `cleanup: ${what} failed: ${errorMessage(e)} (the next run or 'snapback cleanup' retries)`,
      );
    });
    const takeCtx: TakeContext = { plan: p.planName, runId: p.runId, journal };

    try {
      const tmpEntry = { provider: "fs", type: "dir", id: p.tmpDir };
      await journal.add(tmpEntry);
      await mkdir(p.tmpDir, { recursive: true, mode: 0o700 });
      stack.defer(`removing ${p.tmpDir}`, async () => {
        await rm(p.tmpDir, { recursive: true, force: true });
        await journal.done(tmpEntry);
      });

      // A flag the engine's version lacks is a config error of the whole plan (exit 2).
      for (const engine of ctx.engines) await engine.checkPlanFlags?.(p.planName, p.plan);

      // Open every repository before touching the filesystem: a wrong password or an
      // unreachable host should cost nothing. A failing repository does not stop the others.
      // Without a `before` hook or a dump, a wrong password found by the backup itself costs
      // a snapshot that is removed again: the engine may skip its pre-open then (the promise
      // that it fails before a hook stops a service holds whenever there is such a hook).
      const mayDefer =
        !p.plan.hooks.some((h) => h.when === "before") && p.plan.databases.length === 0;
      const ready: RepositoryEngine[] = [];
      for (const engine of ctx.engines) {
        throwIfAborted(ctx.signal);
        try {
          await engine.prepare(ctx.signal, { mayDefer });
          for (const dir of engine.writableDirs())
            await mkdir(dir, { recursive: true, mode: 0o700 });
          ready.push(engine);
        } catch (e) {
          if (ctx.signal.aborted) throw e;
          recordFailure(engine.repoName, e);
        }
      }
      if (ready.length === 0) throw new NoRepositoryError();

      // All snapshots back to back: nothing slow between the first and the last. `before`
      // hooks quiesce services; `after_snapshot` hooks restart them even if this fails.
      let snapStart = 0;
      await hooks.aroundSnapshots(
        facts,
        async () => {
          snapStart = performance.now();
          for (const g of p.groups) {
            const t = await g.provider.take(g.snapshot, takeCtx);
            taken.push(t);
            stack.defer(
              `removing ${g.snapshot.kind} snapshot of ${g.snapshot.sources.join(", ")}`,
              // A snapshot a replication target needs as its next parent stays on the source.
              () =>
                releaseUnlessPinned(ctx.engines, p.planName, g.provider, t, takeCtx, () =>
                  releaseOrKeep(p, g.provider, t, takeCtx, summaries.length > 0),
                ),
            );
          }
        },
        ctx.signal,
      );
      const instants = taken.filter((t) => t.plan.kind !== "none").map((t) => t.takenAtMs);
      skewMs = instants.length > 0 ? Math.max(...instants) - Math.min(...instants) : null;
      for (const t of taken) for (const w of t.warnings) if (t.plan.kind !== "none") warn(w);
      ctx.emit({
        type: "snapshots",
        plan: p.planName,
        skew_ms: skewMs ?? 0,
        took_ms: round(performance.now() - snapStart),
        groups: taken.map((t) => ({
          kind: t.plan.kind,
          sources: t.plan.sources,
          atomic: t.plan.atomic,
          names: t.names,
        })),
      });
      throwIfAborted(ctx.signal);

      const binds = taken.flatMap((t) => t.binds).sort((a, b) => depth(a.to) - depth(b.to));
      const writable = unique([p.tmpDir, ...ready.flatMap((e) => e.writableDirs())]);
      const wrap = binds.length > 0 ? viewWrapper({ binds, writable }) : directWrapper;
      const excludeFile = await writeRunExcludes(p, binds, warn);
      const devices = await snapshotDeviceIds(taken);
      const deviceMemory = new DeviceIdMemory(join(p.stateDir, "cache"));

      for (const engine of ready) {
        throwIfAborted(ctx.signal);
        ctx.emit({ type: "backup_start", plan: p.planName, repository: engine.repoName });
        try {
          const summary = await engine.backup({
            planName: p.planName,
            plan: p.plan,
            paths: p.sources.map((s) => s.path),
            extraExcludes: p.internalExcludes,
            ...(excludeFile === undefined ? {} : { excludeFile }),
            host: p.host,
            wrap,
            snapshots: taken,
            env: { TMPDIR: p.tmpDir },
            signal: ctx.signal,
            onProgress: (pr) => ctx.emit(progressEvent(p.planName, engine.repoName, pr)),
            onWarning: (m) => warn(m, engine.repoName),
          });
          const event = summaryEvent(p.planName, engine.repoName, summary);
          summaries.push(event);
          ctx.emit(event);
          const devicesKey = DeviceIdMemory.key(
            engine.repoName,
            p.sources.map((s) => s.path),
          );
          const previous = await deviceMemory.get(devicesKey);
          await deviceMemory.set(devicesKey, devices);
          const churn = await churnWarning(engine, summary, previous, devices);
          if (churn !== undefined) warn(churn, engine.repoName);
        } catch (e) {
          if (ctx.signal.aborted) throw e;
          recordFailure(engine.repoName, e);
        }
        await dumpDatabases(p, engine, {
          emit: ctx.emit,
          signal: ctx.signal,
          onFailure: recordFailure,
        });
      }
      afterBackup = await applyRetentionAfterBackup({
        run: p,
        engines: ready.filter((e) => summaries.some((s) => s.repository === e.repoName)),
        taken,
        signal: ctx.signal,
        warn,
        onPhase: (phase) => ctx.emit({ type: "phase", plan: p.planName, phase }),
      });
    } catch (e) {
      // Repositories that failed to open already reported their own errors and codes.
      if (!ctx.signal.aborted && !(e instanceof NoRepositoryError)) {
        fatal = errorMessage(e);
        ctx.emit({ type: "error", plan: p.planName, message: fatal });
        failedCodes.push(e instanceof SnapbackError ? e.exitCode : 1);
      }
    }
  }
  if (!unwindFailed) await journal.remove();

  let status: RunStatus = ctx.signal.aborted
    ? "interrupted"
    : fatal !== undefined || Object.keys(failed).length > 0
      ? "failed"
      : summaries.some((s) => s.error_count > 0)
        ? "partial"
        : "success";
  // The first cause reaches hooks, history and notifications as it is ("wrong password", not
  // "no repository could be opened").
  let cause = firstCause({ signal: ctx.signal, fatal, failedRepositories: failed });
  try {
    await hooks.finish({
      ...facts,
      status,
      summaries,
      ...(cause === undefined ? {} : { error: cause }),
    });
  } catch (e) {
    // A success/failure/finally hook with on_error = "fail" fails the run it reports on.
    cause ??= errorMessage(e);
    if (status !== "interrupted") status = "failed";
    ctx.emit({ type: "error", plan: p.planName, message: errorMessage(e) });
  }
  const result: ResultEvent = {
    type: "result",
    plan: p.planName,
    run_id: p.runId,
    status,
    snapshot_ids: Object.fromEntries(summaries.map((s) => [s.repository, s.snapshot_id])),
    snapshot_skew_ms: skewMs,
    atomic_groups: taken
      .filter((t) => t.plan.kind !== "none")
      .map((t) => ({ kind: t.plan.kind, sources: t.plan.sources })),
    nested: taken.flatMap((t) => t.plan.nested),
    not_point_in_time: p.notPointInTime,
    warnings,
    failed_repositories: failed,
    engines: await engineReports(ctx.engines),
    ...(cause === undefined ? {} : { error: cause }),
    duration_s: round((performance.now() - started) / 1000),
    ...afterBackup,
  };
  await reportResult({ ...ctx, notify }, result, summaries, tail);
  return { result, exitCode: exitCodeFor(status, failedCodes, summaries.length > 0) };

  function recordFailure(repo: string, e: unknown): void {
    const hint = e instanceof SnapbackError && e.hint ? ` (${e.hint})` : "";
    failed[repo] = errorMessage(e) + hint;
    failedCodes.push(e instanceof SnapbackError ? e.exitCode : 1);
    ctx.emit({ type: "error", plan: p.planName, repository: repo, message: failed[repo] });
  }
}

function exitCodeFor(status: RunStatus, failedCodes: number[], somethingBackedUp: boolean): number {
  switch (status) {
    case "success":
      return 0;
    case "partial":
      return 3;
    case "interrupted":
      return 130;
    case "failed":
      // A repository that failed for a config reason (wrong password, missing) or a lock keeps
      // its own code; anything else is a plain failure. Exit 2 and 4 promise that nothing was
      // touched: once a repository got its backup, the run as a whole simply failed.
      if (somethingBackedUp) return 1;
      if (failedCodes.length > 0 && failedCodes.every((c) => c === failedCodes[0]))
        return failedCodes[0] ?? 1;
      return 1;
  }
}

function summaryEvent(plan: string, repository: string, s: BackupSummary): SummaryEvent {
  return {
    type: "summary",
    plan,
    repository,
    snapshot_id: s.snapshotId,
    files_new: s.filesNew,
    files_changed: s.filesChanged,
    files_unmodified: s.filesUnmodified,
    dirs_new: s.dirsNew,
    dirs_changed: s.dirsChanged,
    dirs_unmodified: s.dirsUnmodified,
    data_blobs: s.dataBlobs,
    tree_blobs: s.treeBlobs,
    data_added: s.dataAdded,
    total_files_processed: s.totalFilesProcessed,
    total_bytes_processed: s.totalBytesProcessed,
    error_count: s.errorCount,
    duration_s: round(s.durationS),
  };
}

/**
 * With `ignore_file`, every such file under the sources — read from the snapshots, so at the
 * snapshot instant — becomes exclude patterns in one file in the run's temp dir (live and
 * visible in the view). The plan's own excludes come after them so that an ignore file's `!`
 * can never re-include what the plan or snapback excludes.
 */
async function writeRunExcludes(
  p: RunPlan,
  binds: readonly ViewBind[],
  warn: (m: string) => void,
): Promise<string | undefined> {
  const name = p.plan.ignore_file;
  if (name === undefined) return undefined;
  const roots = [
    // Snapshots are frozen: their rules are resolved to exact paths on the walk.
    ...binds.map((b) => ({ readFrom: b.from, original: b.to, frozen: true })),
    ...p.notPointInTime.map((s) => ({ readFrom: s, original: s })),
  ];
  const restic = await probeRestic().catch(() => undefined);
  const found = await collectIgnorePatterns(
    roots,
    name,
    restic ? { resticVersion: restic.version } : {},
  );
  for (const w of found.warnings) warn(w);
  if (found.errors.length > 0) {
    throw new UsageError(`plans.${p.planName}.ignore_file: ${found.errors.join("; ")}`);
  }
  return writeExcludeFile(p.tmpDir, [...found.patterns, ...p.plan.exclude, ...p.internalExcludes]);
}

/**
 * Ends the run early when no repository opened. Never shown: each repository already reported
 * its own failure, and the first of them is the run's cause (firstCause).
 */
class NoRepositoryError extends SnapbackError {
  constructor() {
    super("no repository could be opened");
  }
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new SnapbackError("interrupted");
}

function depth(path: string): number {
  return path === "/" ? 0 : path.split("/").length;
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
