import { isAbsolute } from "node:path";
import * as z from "../util/zod.js";

/**
 * `[[plans.X.databases]]`: databases dumped into the plan's repositories after its
 * filesystem backup, each as its own snapshot. The lead wires `databasesSchema` into the
 * plan schema as `databases`; `databasesOf` reads it from a parsed plan either way.
 */

const absolutePath = z
  .string()
  .min(1, "must not be empty")
  .refine((p) => isAbsolute(p), { message: "must be an absolute path" });

/** Used in snapshot paths and tags, so the same alphabet as plan and repository names. */
const entryName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]*$/,
    "may contain only letters, digits, '_', '.', '-' and must start with a letter or digit",
  );

/**
 * A database name as a client program's argument. libpq reads a `--dbname` holding "=" or a
 * URI as a connection string (which could carry a password into argv); a leading "-" would
 * be read as an option by the MySQL clients.
 */
export const databaseName = z
  .string()
  .min(1, "must not be empty")
  .refine((d) => !d.includes("=") && !/^postgres(ql)?:\/\//i.test(d), {
    message: "must be a database name, not a connection string",
  })
  .refine((d) => !d.startsWith("-"), { message: "must not start with '-'" });

const port = z.int().min(1).max(65535);

/** Extra arguments for the dump program (never secrets: argv is world-readable). */
const options = z.array(z.string()).default([]);

const postgresqlDatabase = z
  .strictObject({
    type: z.literal("postgresql"),
    name: entryName,
    /** A database name (pg_dump), or "all" for the whole cluster (pg_dumpall). */
    database: databaseName,
    /** pg_dump's archive format; default "custom". pg_dumpall writes plain SQL only. */
    format: z.enum(["custom", "plain"]).optional(),
    /** Host name, or the directory of the server's Unix socket (libpq semantics). */
    host: z.string().min(1).optional(),
    port: port.optional(),
    user: z.string().min(1).optional(),
    /** First line is the password; given to the client in PGPASSWORD, never argv. */
    password_file: absolutePath.optional(),
    /** Run the client as this OS user (peer authentication, e.g. "postgres"). */
    os_user: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, "must be a user name")
      .optional(),
    options,
  })
  .superRefine((db, ctx) => {
    if (db.database === "all" && db.format === "custom") {
      ctx.addIssue({
        code: "custom",
        path: ["format"],
        message: 'database = "all" is dumped by pg_dumpall, which writes plain SQL only',
      });
    }
  });

const mysqlDatabase = z.strictObject({
  type: z.literal("mysql"),
  name: entryName,
  /** A database name, or "all" (--all-databases). */
  database: databaseName,
  host: z.string().min(1).optional(),
  port: port.optional(),
  /** The server's Unix socket file. */
  socket: absolutePath.optional(),
  user: z.string().min(1).optional(),
  /** First line is the password; given through a private --defaults-extra-file. */
  password_file: absolutePath.optional(),
  options,
});

const sqliteDatabase = z.strictObject({
  type: z.literal("sqlite"),
  name: entryName,
  /** The database file; read through a single read transaction (VACUUM INTO). */
  path: absolutePath,
});

export const databaseSchema = z.discriminatedUnion("type", [
  postgresqlDatabase,
  mysqlDatabase,
  sqliteDatabase,
]);

export const databasesSchema = z
  .array(databaseSchema)
  .default([])
  .superRefine((dbs, ctx) => {
    const seen = new Map<string, number>();
    dbs.forEach((db, i) => {
      const first = seen.get(db.name);
      if (first === undefined) seen.set(db.name, i);
      else {
        ctx.addIssue({
          code: "custom",
          path: [i, "name"],
          message: `repeats databases[${first}].name ("${db.name}"): names must be unique within a plan`,
        });
      }
    });
  });

export type DatabaseConfig = z.infer<typeof databaseSchema>;
export type PostgresDatabase = z.infer<typeof postgresqlDatabase>;
export type MysqlDatabase = z.infer<typeof mysqlDatabase>;
export type SqliteDatabase = z.infer<typeof sqliteDatabase>;
export type DatabaseType = DatabaseConfig["type"];

/** The plan's databases, whether or not the plan schema carries the key yet. */
export function databasesOf(plan: object): DatabaseConfig[] {
  const dbs = (plan as { databases?: unknown }).databases;
  return Array.isArray(dbs) ? (dbs as DatabaseConfig[]) : [];
}
