import { join, resolve } from "node:path";
import type { EngineSnapshot, RepositoryEngine, StreamSink } from "../engine/types.js";
import { UsageError } from "../errors.js";
import { withDatabase } from "./dump.js";
import { dumpSelector, formatOfPath, type DumpFormat } from "./naming.js";
import { driverFor } from "./registry.js";
import { databasesOf, type DatabaseConfig } from "../config/databases.js";
import { stdoutSink, writeFileAtomically } from "./stream.js";
import { journaledTempDir } from "./tempdir.js";

/** Into a database on the entry's server, into a file, or to stdout. */
export type DumpDestination =
  { database: string } | { file: string } | { stdout: NodeJS.WritableStream };

export interface RestoreDatabaseRequest {
  planName: string;
  /** The plan's config (its `databases`). */
  plan: object;
  /** The database entry's name. */
  name: string;
  engine: RepositoryEngine;
  /** "latest" or a snapshot id (prefix) of this database's dumps. */
  snapshot: string;
  to: DumpDestination;
  /** Replace an existing file (--to-file only). */
  overwrite: boolean;
  stateDir: string;
  signal: AbortSignal;
}

export interface RestoredDatabase {
  snapshot: EngineSnapshot;
  /** The stored path of the dump. */
  path: string;
  format: DumpFormat;
  bytes: number;
}

/**
 * Streams one stored dump back: loaded into a database by the program that matches how it
 * was written (pg_restore, psql, mysql), written to a file (a SQLite database is restored
 * this way), or to stdout. Loads run in one transaction where the program allows it, so a
 * broken-off restore leaves the target database as it was.
 */
export async function restoreDatabase(req: RestoreDatabaseRequest): Promise<RestoredDatabase> {
  const entry = databasesOf(req.plan).find((d) => d.name === req.name);
  if ("database" in req.to && !entry) throw unknownEntry(req);
  const snapshot = await resolveDump(req);
  const path = snapshot.paths[0] ?? "";
  const format = formatOfPath(path);
  if (format === undefined || snapshot.paths.length !== 1) {
    throw new UsageError(
      `snapshot ${snapshot.shortId} of database "${req.name}" holds ${snapshot.paths.join(", ")}, not a snapback database dump`,
    );
  }
  const stream = (sink: StreamSink): Promise<{ bytes: number }> =>
    req.engine.restoreStream({ snapshotId: snapshot.id, filename: path, sink, signal: req.signal });

  try {
    let bytes: number;
    if ("stdout" in req.to) {
      ({ bytes } = await stream(stdoutSink(req.to.stdout)));
    } else if ("file" in req.to) {
      ({ bytes } = await writeFileAtomically(
        {
          path: resolve(req.to.file),
          overwrite: req.overwrite,
          format,
          stateDir: req.stateDir,
          plan: req.planName,
        },
        stream,
      ));
    } else {
      ({ bytes } = await loadIntoDatabase(
        req,
        entry as DatabaseConfig,
        format,
        req.to.database,
        stream,
      ));
    }
    return { snapshot, path, format, bytes };
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw withDatabase(req.name, e);
  }
}

async function loadIntoDatabase(
  req: RestoreDatabaseRequest,
  entry: DatabaseConfig,
  format: DumpFormat,
  target: string,
  stream: (sink: StreamSink) => Promise<{ bytes: number }>,
): Promise<{ bytes: number }> {
  const index = databasesOf(req.plan).indexOf(entry);
  const driver = driverFor(entry);
  await using tmp = await journaledTempDir(
    req.stateDir,
    req.planName,
    join(req.stateDir, "tmp"),
    "restore-",
  );
  await using sink = await driver.prepareLoad(entry, format, target, {
    tmpDir: tmp.path,
    signal: req.signal,
    key: `plans.${req.planName}.databases[${index}]`,
  });
  // Awaited here: the option file must outlive the load.
  return await stream(sink.value);
}

/** "latest" or an id prefix, among this database's dumps in the repository. */
async function resolveDump(req: RestoreDatabaseRequest): Promise<EngineSnapshot> {
  const where = `repository "${req.engine.repoName}"`;
  const dumps = await req.engine.snapshotsWithTags(
    dumpSelector(req.planName, req.name),
    req.signal,
  );
  if (req.snapshot === "latest") {
    const latest = dumps.at(-1);
    if (!latest)
      throw new UsageError(
        `${where} has no dump of database "${req.name}" of plan "${req.planName}"`,
      );
    return latest;
  }
  if (!/^[0-9a-f]{1,64}$/.test(req.snapshot)) {
    throw new UsageError(`--snapshot ${req.snapshot}: not a snapshot id (hex digits) nor "latest"`);
  }
  const matches = dumps.filter((s) => s.id.startsWith(req.snapshot));
  const [first] = matches;
  if (!first)
    throw new UsageError(
      `${where} has no dump ${req.snapshot} of database "${req.name}" of plan "${req.planName}"`,
    );
  if (matches.length > 1) {
    throw new UsageError(
      `--snapshot ${req.snapshot} is ambiguous in ${where}: ${matches.map((s) => s.shortId).join(", ")}`,
    );
  }
  return first;
}

function unknownEntry(req: RestoreDatabaseRequest): UsageError {
  const names = databasesOf(req.plan).map((d) => d.name);
  return new UsageError(
    `plan "${req.planName}" has no database "${req.name}" (its databases: ${names.join(", ") || "none"})`,
    {
      hint: "--to-database needs the entry's connection settings; --to-file works for any stored dump",
    },
  );
}
