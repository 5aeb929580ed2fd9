import { randomBytes } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { SnapbackError, UsageError } from "../errors.js";
import { commandLine, which } from "../exec/index.js";
import type { MysqlDatabase } from "../config/databases.js";
import { readPasswordFile } from "./secrets.js";
import {
  nothingToDispose,
  type DatabaseDriver,
  type DriverContext,
  type Prepared,
} from "./types.js";

/**
 * MySQL and MariaDB through their own clients (MariaDB's names first: Debian ships
 * mariadb-dump and keeps mysqldump as a compatibility name). `--single-transaction` reads
 * InnoDB tables in one consistent snapshot without locking writers; MyISAM tables get no such
 * guarantee. The password goes into a 0600 option file in the run's private temp dir, named
 * by `--defaults-extra-file` (argv carries only its path) and removed after the command.
 */
export const mysqlDriver: DatabaseDriver<MysqlDatabase> = {
  format() {
    return "mysqldump.sql";
  },

  async prepareDump(db, ctx) {
    const file = await firstInstalled(["mariadb-dump", "mysqldump"], db.name);
    const defaults = await defaultsFile(db, ctx);
    return {
      value: {
        kind: "command",
        file,
        args: [...defaults.value, ...dumpArgs(db)],
        label: `database "${db.name}": ${basename(file)} of ${db.database === "all" ? "all databases" : `"${db.database}"`}`,
      },
      [Symbol.asyncDispose]: () => defaults[Symbol.asyncDispose](),
    };
  },

  async prepareLoad(db, format, target, ctx) {
    if (format !== "mysqldump.sql") {
      throw new UsageError(
        `database "${db.name}": the stored dump is a ${format} file, not a MySQL dump`,
        {
          hint: "restore it with --to-file PATH",
        },
      );
    }
    if (db.database === "all") {
      throw new UsageError(
        `database "${db.name}" is a dump of all databases (with their CREATE DATABASE statements): it is not loaded into one database`,
        { hint: "restore it with --to-file PATH and run: mariadb < PATH" },
      );
    }
    const file = await firstInstalled(["mariadb", "mysql"], db.name);
    const defaults = await defaultsFile(db, ctx);
    return {
      value: {
        kind: "command",
        file,
        args: [...defaults.value, ...connectionArgs(db), `--database=${target}`],
        label: `database "${db.name}": ${basename(file)} into "${target}"`,
      },
      [Symbol.asyncDispose]: () => defaults[Symbol.asyncDispose](),
    };
  },

  describe(db) {
    const defaults = db.password_file
      ? ["--defaults-extra-file=<0600 temp file with the password>"]
      : [];
    return commandLine("mariadb-dump", [...defaults, ...dumpArgs(db)]);
  },
};

export function dumpArgs(db: MysqlDatabase): string[] {
  const args = [
    "--single-transaction",
    "--quick",
    "--routines",
    "--triggers",
    ...connectionArgs(db),
    ...db.options,
  ];
  if (db.database === "all") args.push("--all-databases");
  else args.push("--", db.database);
  return args;
}

function connectionArgs(db: MysqlDatabase): string[] {
  const args: string[] = [];
  if (db.host !== undefined) args.push(`--host=${db.host}`);
  if (db.port !== undefined) args.push(`--port=${db.port}`);
  if (db.socket !== undefined) args.push(`--socket=${db.socket}`);
  if (db.user !== undefined) args.push(`--user=${db.user}`);
  return args;
}

/**
 * `--defaults-extra-file=F` (it must come first) with the password, or nothing when the
 * entry has no password_file (the client's own option files and socket auth apply).
 */
async function defaultsFile(db: MysqlDatabase, ctx: DriverContext): Promise<Prepared<string[]>> {
  if (db.password_file === undefined) return { value: [], [Symbol.asyncDispose]: nothingToDispose };
  const password = await readPasswordFile(`${ctx.key}.password_file`, db.password_file);
  const path = join(ctx.tmpDir, `mysql-${db.name}-${randomBytes(4).toString("hex")}.cnf`);
  await writeFile(path, optionFileText(password), { mode: 0o600, flag: "wx" });
  return {
    value: [`--defaults-extra-file=${path}`],
    [Symbol.asyncDispose]: () => rm(path, { force: true }),
  };
}

/** A [client] option file; the value quoted, backslash and quote escaped as the parser expects. */
export function optionFileText(password: string): string {
  const quoted = password.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
  return `[client]\npassword="${quoted}"\n`;
}

async function firstInstalled(names: string[], entry: string): Promise<string> {
  for (const n of names) {
    const path = await which(n);
    if (path) return path;
  }
  throw new SnapbackError(`database "${entry}": none of ${names.join(", ")} is installed`, {
    hint: "install the MariaDB or MySQL client (Debian: apt-get install mariadb-client)",
  });
}
