import type { RepositoryEngine } from "../engine/types.js";
import { UsageError } from "../errors.js";
import { log } from "../log.js";
import { withInterrupts } from "../core/signals.js";
import { restoreDatabase, type DumpDestination } from "./restore.js";
import { databaseName } from "../config/databases.js";

/**
 * `snapback restore PLAN --database NAME (--to-database DB | --to-file PATH|-)`: the
 * database half of the restore command.
 */
export const DATABASE_RESTORE_USAGE =
  "snapback restore PLAN --database NAME (--to-database DB | --to-file PATH|-) [--snapshot ID|latest] [--overwrite] [--repository NAME]\n" +
  "  (--to-database loads the dump into DB, an existing, empty database on the entry's server;\n" +
  "   --to-file writes the dump, or a SQLite database, to PATH; - is stdout)";

export interface DatabaseRestoreFlags {
  database?: string | undefined;
  toDatabase?: string | undefined;
  toFile?: string | undefined;
  /** The file restore's flags, which do not go with --database. */
  target?: string | undefined;
  paths: string[];
  writable: boolean;
  overwrite: boolean;
  json: boolean;
  stdoutIsTTY: boolean;
}

export type DatabaseRestoreArgs = {
  name: string;
  to: { database: string } | { file: string } | { stdout: true };
  overwrite: boolean;
};

/**
 * Validates the database flags before anything is read. Undefined when the command is a
 * file restore; a UsageError when the flags are mixed or incomplete.
 */
export function databaseRestoreArgs(f: DatabaseRestoreFlags): DatabaseRestoreArgs | undefined {
  const hint = { hint: DATABASE_RESTORE_USAGE };
  if (f.database === undefined) {
    if (f.toDatabase !== undefined || f.toFile !== undefined) {
      throw new UsageError(
        "restore: --to-database and --to-file restore a database dump: name it with --database NAME",
        hint,
      );
    }
    return undefined;
  }
  if (f.target !== undefined || f.paths.length > 0 || f.writable) {
    throw new UsageError(
      "restore: --database restores a database dump; --target, --path and --writable restore files: use one or the other",
      hint,
    );
  }
  if ((f.toDatabase === undefined) === (f.toFile === undefined)) {
    throw new UsageError(
      "restore: --database NAME needs exactly one of --to-database DB and --to-file PATH (- for stdout)",
      hint,
    );
  }
  if (f.toDatabase !== undefined) {
    const checked = databaseName.safeParse(f.toDatabase);
    if (!checked.success)
      throw new UsageError(
        `restore: --to-database ${f.toDatabase}: ${checked.error.issues[0]?.message ?? "invalid"}`,
      );
    if (f.overwrite) {
      throw new UsageError(
        "restore: --overwrite applies to --to-file; --to-database loads into an existing database in one transaction",
      );
    }
    return { name: f.database, to: { database: f.toDatabase }, overwrite: false };
  }
  const file = f.toFile ?? "";
  if (file === "-") {
    if (f.json)
      throw new UsageError(
        "restore: --to-file - writes the dump to stdout, which --json needs for itself",
      );
    if (f.stdoutIsTTY)
      throw new UsageError(
        "restore: --to-file - would write the dump to a terminal: redirect stdout, or name a file",
      );
    return { name: f.database, to: { stdout: true }, overwrite: false };
  }
  if (file === "") throw new UsageError("restore: --to-file needs a path (or - for stdout)");
  return { name: f.database, to: { file }, overwrite: f.overwrite };
}

export interface DatabaseRestoreContext {
  planName: string;
  /** The plan's config (its `databases`). */
  plan: object;
  engine: RepositoryEngine;
  stateDir: string;
  json: boolean;
  print(line: string): void;
  printJson(value: unknown): void;
}

/** Runs a validated database restore; returns the exit code. */
export async function runDatabaseRestore(
  args: DatabaseRestoreArgs,
  snapshot: string,
  ctx: DatabaseRestoreContext,
): Promise<number> {
  const to: DumpDestination = "stdout" in args.to ? { stdout: process.stdout } : args.to;
  const { value: restored, interruptedBy } = await withInterrupts((signal) =>
    restoreDatabase({
      planName: ctx.planName,
      plan: ctx.plan,
      name: args.name,
      engine: ctx.engine,
      snapshot,
      to,
      overwrite: args.overwrite,
      stateDir: ctx.stateDir,
      signal,
    }),
  );
  if (interruptedBy) return 130;
  const where =
    "database" in args.to
      ? `database "${args.to.database}"`
      : "file" in args.to
        ? args.to.file
        : "stdout";
  if (ctx.json) {
    ctx.printJson({
      plan: ctx.planName,
      repository: ctx.engine.repoName,
      database: args.name,
      snapshot: restored.snapshot.id,
      time: restored.snapshot.time,
      path: restored.path,
      format: restored.format,
      bytes: restored.bytes,
      ...("database" in args.to ? { to_database: args.to.database } : {}),
      ...("file" in args.to ? { to_file: args.to.file } : {}),
    });
    return 0;
  }
  const line = `restored database ${args.name} (dump ${restored.snapshot.shortId} of ${restored.snapshot.time}, ${restored.bytes} bytes) from ${ctx.engine.repoName} into ${where}`;
  // With --to-file -, stdout is the dump.
  if ("stdout" in args.to) log.info(line);
  else ctx.print(line);
  return 0;
}
