import type { RepositoryEngine, StreamBackupSummary } from "../engine/types.js";
import { errorMessage, SnapbackError } from "../errors.js";
import type { RunEvent } from "../core/events.js";
import type { DatabaseSummaryEvent } from "../core/events.js";
import { dumpPath, dumpTags } from "./naming.js";
import { driverFor } from "./registry.js";
import { databasesOf, type DatabaseConfig } from "../config/databases.js";

/** What of a run the dumps need. */
export interface DumpRun {
  planName: string;
  /** The plan's config (its `databases` and `tags`). */
  plan: { tags: string[] };
  host: string;
  /** The run's private temp dir (journaled, removed by the run). */
  tmpDir: string;
}

export interface DumpContext {
  /**
   * The run's event sink. Declared as a method so that the run's EventSink fits as it is:
   * `database_summary` events pass through it until RunEvent lists them.
   */
  emit(event: RunEvent | DatabaseSummaryEvent): void;
  signal: AbortSignal;
  /** A dump failed: the run records it against the repository and goes on. */
  onFailure: (repository: string, error: unknown) => void;
}

/**
 * Dumps every database of the plan into one repository, each as its own snapshot, one after
 * the other. A failing dump is reported and the next one still runs; an interruption ends
 * them all (it is thrown).
 */
export async function dumpDatabases(
  run: DumpRun,
  engine: RepositoryEngine,
  ctx: DumpContext,
): Promise<void> {
  for (const [i, db] of databasesOf(run.plan).entries()) {
    if (ctx.signal.aborted) throw new SnapbackError("interrupted");
    try {
      const summary = await dumpDatabase(run, engine, db, i, ctx.signal);
      ctx.emit(summaryEvent(run, engine.repoName, db, summary));
    } catch (e) {
      if (ctx.signal.aborted) throw e;
      ctx.onFailure(engine.repoName, withDatabase(db.name, e));
    }
  }
}

/** One database into one repository. */
export async function dumpDatabase(
  run: DumpRun,
  engine: RepositoryEngine,
  db: DatabaseConfig,
  index: number,
  signal: AbortSignal,
): Promise<StreamBackupSummary & { path: string }> {
  const driver = driverFor(db);
  const path = dumpPath(run.planName, db.name, driver.format(db));
  await using prepared = await driver.prepareDump(db, {
    tmpDir: run.tmpDir,
    signal,
    key: `plans.${run.planName}.databases[${index}]`,
  });
  const summary = await engine.backupStream({
    filename: path,
    host: run.host,
    tags: dumpTags(run.planName, db.name, run.plan.tags),
    source: prepared.value,
    env: { TMPDIR: run.tmpDir },
    signal,
  });
  return { ...summary, path: summary.storedAs ?? path };
}

/** The dumps a run would make, for --dry-run. */
export function describeDatabaseDumps(planName: string, plan: object): string[] {
  return databasesOf(plan).map(
    (db) =>
      `database ${db.name} (${db.type}): ${driverFor(db).describe(db)} → ${dumpPath(planName, db.name, driverFor(db).format(db))}`,
  );
}

/** Every message about a database names it, once. */
export function withDatabase(name: string, e: unknown): SnapbackError {
  const prefix = `database "${name}"`;
  const message = errorMessage(e);
  if (message.startsWith(prefix))
    return e instanceof SnapbackError ? e : new SnapbackError(message, { cause: e });
  return new SnapbackError(`${prefix}: ${message}`, {
    exitCode: e instanceof SnapbackError ? e.exitCode : 1,
    ...(e instanceof SnapbackError && e.hint !== undefined ? { hint: e.hint } : {}),
    cause: e,
  });
}

function summaryEvent(
  run: DumpRun,
  repository: string,
  db: DatabaseConfig,
  s: StreamBackupSummary & { path: string },
): DatabaseSummaryEvent {
  return {
    type: "database_summary",
    plan: run.planName,
    repository,
    database: db.name,
    db_type: db.type,
    snapshot_id: s.snapshotId,
    path: s.path,
    bytes: s.bytes,
    data_added: s.dataAdded,
    duration_s: Math.round(s.durationS * 1000) / 1000,
  };
}
