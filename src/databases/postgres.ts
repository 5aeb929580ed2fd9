import { UsageError } from "../errors.js";
import { commandLine } from "../exec/index.js";
import type { StreamCommand } from "../engine/types.js";
import type { PostgresDatabase } from "../config/databases.js";
import { readPasswordFile } from "./secrets.js";
import { nothingToDispose, type DatabaseDriver, type DriverContext } from "./types.js";

/**
 * PostgreSQL through its own clients. pg_dump reads one database in one transaction
 * snapshot, so the dump is one instant however long it takes; pg_dumpall ("all") adds the
 * roles and every database (each still consistent in itself). The password reaches the
 * clients as PGPASSWORD; `--no-password` makes them fail instead of prompting.
 */
export const postgresDriver: DatabaseDriver<PostgresDatabase> = {
  format(db) {
    if (db.database === "all") return "pg_dumpall.sql";
    return db.format === "plain" ? "pg_dump.sql" : "pg_dump";
  },

  async prepareDump(db, ctx) {
    const command = dumpCommand(db);
    const env = await clientEnv(db, ctx);
    return {
      value: {
        kind: "command",
        ...asOsUser(db, command),
        env: env.vars,
        secrets: env.secrets,
        label:
          db.database === "all"
            ? `database "${db.name}": pg_dumpall`
            : `database "${db.name}": pg_dump of "${db.database}"`,
      },
      [Symbol.asyncDispose]: nothingToDispose,
    };
  },

  async prepareLoad(db, format, target, ctx) {
    const conn = connectionArgs(db);
    let command: { file: string; args: string[] };
    switch (format) {
      case "pg_dump":
        command = {
          file: "pg_restore",
          args: [
            "--no-password",
            "--exit-on-error",
            "--single-transaction",
            ...conn,
            `--dbname=${target}`,
          ],
        };
        break;
      case "pg_dump.sql":
        command = {
          file: "psql",
          args: [
            "--no-password",
            "--no-psqlrc",
            "--quiet",
            "--set=ON_ERROR_STOP=1",
            "--single-transaction",
            ...conn,
            `--dbname=${target}`,
          ],
        };
        break;
      case "pg_dumpall.sql":
        throw new UsageError(
          `database "${db.name}" is a pg_dumpall dump of a whole cluster (roles and every database): it is not loaded into one database`,
          {
            hint: "restore it with --to-file PATH and run: psql -f PATH postgres (on a fresh cluster)",
          },
        );
      default:
        throw new UsageError(
          `database "${db.name}": the stored dump is a ${format} file, not a PostgreSQL dump`,
          {
            hint: "restore it with --to-file PATH",
          },
        );
    }
    const env = await clientEnv(db, ctx);
    return {
      value: {
        kind: "command",
        ...asOsUser(db, command),
        env: env.vars,
        secrets: env.secrets,
        label: `database "${db.name}": ${command.file} into "${target}"`,
      },
      [Symbol.asyncDispose]: nothingToDispose,
    };
  },

  describe(db) {
    const c = asOsUser(db, dumpCommand(db));
    return `${db.password_file ? "PGPASSWORD=<from password_file> " : ""}${commandLine(c.file, c.args)}`;
  },
};

function dumpCommand(db: PostgresDatabase): { file: string; args: string[] } {
  const conn = connectionArgs(db);
  if (db.database === "all")
    return { file: "pg_dumpall", args: ["--no-password", ...conn, ...db.options] };
  const format = db.format ?? "custom";
  return {
    file: "pg_dump",
    args: [
      "--no-password",
      `--format=${format}`,
      ...conn,
      ...db.options,
      `--dbname=${db.database}`,
    ],
  };
}

/** Connection flags as "--flag=value": a value starting with "-" stays a value. */
function connectionArgs(db: PostgresDatabase): string[] {
  const args: string[] = [];
  if (db.host !== undefined) args.push(`--host=${db.host}`);
  if (db.port !== undefined) args.push(`--port=${db.port}`);
  if (db.user !== undefined) args.push(`--username=${db.user}`);
  return args;
}

/** Peer authentication needs the client to run as the database's OS user. */
function asOsUser(
  db: PostgresDatabase,
  c: { file: string; args: string[] },
): Pick<StreamCommand, "file" | "args"> {
  if (db.os_user === undefined) return c;
  return { file: "runuser", args: ["-u", db.os_user, "--", c.file, ...c.args] };
}

async function clientEnv(
  db: PostgresDatabase,
  ctx: DriverContext,
): Promise<{ vars: Record<string, string>; secrets: string[] }> {
  // A server that does not answer must not hang a nightly run.
  const vars: Record<string, string> = { PGCONNECT_TIMEOUT: "30" };
  if (db.password_file === undefined) return { vars, secrets: [] };
  const password = await readPasswordFile(`${ctx.key}.password_file`, db.password_file);
  return { vars: { ...vars, PGPASSWORD: password }, secrets: [password] };
}
