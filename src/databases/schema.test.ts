import { describe, expect, it } from "vitest";
import { dumpPath, formatOfPath, isDatabaseSnapshot } from "./naming.js";
import { driverFor } from "./registry.js";
import { databasesOf, databasesSchema } from "../config/databases.js";

const messages = (input: unknown): string[] => {
  const r = databasesSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

describe("[[plans.X.databases]]", () => {
  it("parses the three types with their defaults", () => {
    const dbs = databasesSchema.parse([
      { type: "postgresql", name: "app", database: "app" },
      { type: "postgresql", name: "cluster", database: "all" },
      { type: "mysql", name: "shop", database: "shop", socket: "/run/mysqld/mysqld.sock" },
      { type: "sqlite", name: "notes", path: "/var/lib/app/db.sqlite" },
    ]);
    expect(dbs.map((d) => [d.name, driverFor(d).format(d)])).toEqual([
      ["app", "pg_dump"],
      ["cluster", "pg_dumpall.sql"],
      ["shop", "mysqldump.sql"],
      ["notes", "sqlite"],
    ]);
    expect(dbs[0]).toEqual({ type: "postgresql", name: "app", database: "app", options: [] });
    expect(databasesOf({ sources: [] })).toEqual([]);
    expect(databasesOf({ databases: dbs })).toBe(dbs);
  });

  it("refuses what would be ambiguous, unsafe or impossible, naming the key", () => {
    expect(
      messages([
        { type: "postgresql", name: "a", database: "a" },
        { type: "sqlite", name: "a", path: "/x" },
      ]),
    ).toEqual(['1.name: repeats databases[0].name ("a"): names must be unique within a plan']);
    expect(
      messages([{ type: "postgresql", name: "c", database: "all", format: "custom" }]),
    ).toEqual(['0.format: database = "all" is dumped by pg_dumpall, which writes plain SQL only']);
    expect(
      messages([{ type: "postgresql", name: "c", database: "host=db password=secret" }]),
    ).toEqual(["0.database: must be a database name, not a connection string"]);
    expect(messages([{ type: "mysql", name: "c", database: "--all-databases" }])).toEqual([
      "0.database: must not start with '-'",
    ]);
    expect(messages([{ type: "sqlite", name: "c", path: "db.sqlite" }])).toEqual([
      "0.path: must be an absolute path",
    ]);
    expect(messages([{ type: "sqlite", name: "../x", path: "/x" }])).toEqual([
      "0.name: may contain only letters, digits, '_', '.', '-' and must start with a letter or digit",
    ]);
    expect(messages([{ type: "sqlite", name: "x", path: "/x", password: "pw" }])).toEqual([
      '0: Unrecognized key: "password"',
    ]);
    expect(messages([{ type: "oracle", name: "x" }])).toHaveLength(1);
  });

  it("names stored dumps so their format can be read back", () => {
    for (const f of [
      "pg_dump",
      "pg_dump.sql",
      "pg_dumpall.sql",
      "mysqldump.sql",
      "sqlite",
    ] as const) {
      expect(formatOfPath(dumpPath("p", "a.b", f))).toBe(f);
    }
    expect(formatOfPath("/home/x.sql")).toBeUndefined();
    expect(isDatabaseSnapshot(["plan-db:p", "database:app"])).toBe(true);
    expect(isDatabaseSnapshot(["plan:p", "nightly"])).toBe(false);
  });

  it("describes a dump for --dry-run without its secret", () => {
    const [pg, my] = databasesSchema.parse([
      {
        type: "postgresql",
        name: "app",
        database: "app",
        host: "db",
        user: "backup",
        password_file: "/etc/snapback/pg.pass",
        os_user: "postgres",
      },
      { type: "mysql", name: "shop", database: "shop", password_file: "/etc/snapback/my.pass" },
    ]);
    if (!pg || !my) throw new Error("parse");
    expect(driverFor(pg).describe(pg)).toBe(
      "PGPASSWORD=<from password_file> runuser -u postgres -- pg_dump --no-password --format=custom --host=db --username=backup --dbname=app",
    );
    expect(driverFor(my).describe(my)).toBe(
      'mariadb-dump "--defaults-extra-file=<0600 temp file with the password>" --single-transaction --quick --routines --triggers -- shop',
    );
  });
});
