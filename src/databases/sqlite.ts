import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { SnapbackError, UsageError } from "../errors.js";
import { commandLine, ProcessError, run } from "../exec/index.js";
import type { SqliteDatabase } from "../config/databases.js";
import type { DatabaseDriver } from "./types.js";

/** How long the copy waits for a writer's lock before it gives up (rollback-journal mode). */
export const SQLITE_BUSY_TIMEOUT_MS = 60_000;

/**
 * SQLite through `VACUUM INTO`: one read transaction copies the database into a new file, so
 * the copy is one instant however long it takes and whatever writers do meanwhile. (The
 * backup API would be the alternative; the sqlite3 shell steps it page batch by page batch
 * and starts over whenever another process writes, which under steady writes may never end.)
 * In WAL mode writers go on during the copy; in rollback-journal mode they wait for it.
 * The copy is a complete database file, so the temp file is unavoidable: it is made in the
 * run's private temp dir, streamed, and removed. The database is opened read-only: a wrong
 * path fails instead of creating an empty database.
 */
export const sqliteDriver: DatabaseDriver<SqliteDatabase> = {
  format() {
    return "sqlite";
  },

  async prepareDump(db, ctx) {
    const copy = join(ctx.tmpDir, `sqlite-${db.name}-${randomBytes(4).toString("hex")}.sqlite`);
    const dispose = (): Promise<void> => rm(copy, { force: true });
    try {
      await run("sqlite3", copyArgs(db.path, copy), { signal: ctx.signal });
    } catch (e) {
      await dispose();
      throw copyFailure(db, e);
    }
    return {
      value: {
        kind: "readable",
        label: `database "${db.name}": copy of ${db.path}`,
        open: () => createReadStream(copy),
      },
      [Symbol.asyncDispose]: dispose,
    };
  },

  prepareLoad(db) {
    return Promise.reject(
      new UsageError(`database "${db.name}" is a SQLite database: it is restored as a file`, {
        hint: "use --to-file PATH (stop the application first when PATH is the live database)",
      }),
    );
  },

  describe(db) {
    return commandLine("sqlite3", copyArgs(db.path, "<run temp dir>/<copy>.sqlite"));
  },
};

function copyArgs(path: string, copy: string): string[] {
  return [
    "-readonly",
    "-bail",
    "-cmd",
    `.timeout ${SQLITE_BUSY_TIMEOUT_MS}`,
    path,
    `VACUUM INTO ${sqlString(copy)}`,
  ];
}

function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

function copyFailure(db: SqliteDatabase, e: unknown): SnapbackError {
  if (!(e instanceof ProcessError))
    return new SnapbackError(`database "${db.name}": ${String(e)}`, { cause: e });
  if (e.spawnCode === "ENOENT") {
    return new SnapbackError(`database "${db.name}": sqlite3 is not installed`, {
      hint: "Debian: apt-get install sqlite3",
    });
  }
  const how = e.signal ? `killed by ${e.signal}` : `exit code ${e.exitCode_}`;
  return new SnapbackError(
    `database "${db.name}": copying ${db.path} with sqlite3 failed (${how}): ${e.stderrTail(3)}`,
  );
}

/** `PRAGMA integrity_check` of a database file: "ok", or what is wrong. */
export async function integrityCheck(path: string, signal?: AbortSignal): Promise<string> {
  const r = await run("sqlite3", ["-readonly", "-bail", path, "PRAGMA integrity_check"], {
    reject: false,
    ...(signal ? { signal } : {}),
  });
  if (r.exitCode !== 0) return r.stderr.trim() || `sqlite3 exited with code ${r.exitCode ?? "?"}`;
  return r.stdout.trim();
}
