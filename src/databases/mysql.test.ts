import { existsSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import {
  MARIADB_PASSWORD,
  MARIADB_USER,
  startMariadb,
  type TestMariadb,
} from "../../test/fixtures/mariadb.js";
import { storedDumpPath } from "../../test/fixtures/restic.js";
import { run } from "../exec/index.js";
import { dumpDatabases } from "./dump.js";
import { dumpArgs, mysqlDriver, optionFileText } from "./mysql.js";
import { restoreDatabase } from "./restore.js";
import { databaseSchema, type MysqlDatabase } from "../config/databases.js";
import { dumpSetup, planWith, recorder, tempDir, watchArgv } from "./test-support.js";

const entry = (m: TestMariadb, extra: object = {}) => ({
  type: "mysql",
  name: "app",
  database: "app",
  socket: m.socket,
  user: MARIADB_USER,
  password_file: m.passwordFile,
  ...extra,
});

/** As for PostgreSQL: one id per transaction into a_events and c_events, b_bulk between. */
async function createApp(m: TestMariadb, bulkRows: number): Promise<void> {
  await m.sql(
    `CREATE DATABASE app;
     USE app;
     CREATE TABLE a_events (id INT PRIMARY KEY) ENGINE=InnoDB;
     CREATE TABLE b_bulk (id INT PRIMARY KEY, filler VARCHAR(64)) ENGINE=InnoDB;
     CREATE TABLE c_events (id INT PRIMARY KEY) ENGINE=InnoDB;
     CREATE TABLE stop_flag (x INT) ENGINE=InnoDB;
     INSERT INTO b_bulk SELECT seq, md5(seq) FROM seq_1_to_${bulkRows};
     DELIMITER //
     CREATE PROCEDURE writer()
     BEGIN
       DECLARE i INT DEFAULT 0;
       w: LOOP
         IF EXISTS (SELECT 1 FROM stop_flag) THEN LEAVE w; END IF;
         SET i = i + 1;
         START TRANSACTION;
         INSERT INTO a_events VALUES (i);
         INSERT INTO c_events VALUES (i);
         COMMIT;
       END LOOP;
     END //
     DELIMITER ;`,
  );
}

async function ids(m: TestMariadb, db: string, table: string): Promise<string> {
  return m.sql(`SELECT count(*), min(id), max(id) FROM ${table}`, db);
}

describe("MySQL/MariaDB dumps (real MariaDB, real restic)", () => {
  it("dumps one consistent instant during concurrent inserts; the password reaches the client only through a private option file", async () => {
    await using setup = await dumpSetup("mysql", startMariadb);
    const { server: m, engine, dir } = setup;
    await createApp(m, 300_000);
    const plan = planWith([entry(m)]);

    const writing = m.sql("CALL writer()", "app");
    while (Number(await m.sql("SELECT count(*) FROM a_events", "app")) < 100) await sleep(20);
    const before = Number(await m.sql("SELECT max(id) FROM a_events", "app"));
    const ctx = recorder();
    const watched = await watchArgv(MARIADB_PASSWORD, () =>
      dumpDatabases(setup.dumpRun(plan), engine, ctx),
    );
    await m.sql("INSERT INTO stop_flag VALUES (1)", "app");
    await writing;
    const after = Number(await m.sql("SELECT max(id) FROM a_events", "app"));

    expect(ctx.failures).toEqual([]);
    expect(ctx.summaries[0]).toMatchObject({
      database: "app",
      db_type: "mysql",
      path: await storedDumpPath("/snapback-databases/p/app.mysqldump.sql"),
    });
    expect(watched.programs.has("mariadb-dump")).toBe(true);
    expect(watched.leaks).toEqual([]);
    const dumpArgv = watched.argvs.find((a) => a[0]?.endsWith("mariadb-dump")) ?? [];
    expect(dumpArgv[1]).toMatch(
      new RegExp(`^--defaults-extra-file=${dir}/mysql-app-[0-9a-f]{8}\\.cnf$`),
    );
    // The option file is gone with the dump.
    expect(await readdir(dir)).toEqual([]);

    await m.sql("CREATE DATABASE app_restored");
    await restoreDatabase(setup.restoreRequest(plan));
    const [count, min, max] = (await ids(m, "app_restored", "a_events")).split("\t").map(Number);
    expect(min).toBe(1);
    expect(count).toBe(max);
    expect(await ids(m, "app_restored", "c_events")).toBe(`${count}\t1\t${max}`);
    expect(max).toBeGreaterThanOrEqual(before);
    expect(max).toBeLessThan(after);
    expect(await m.sql("SELECT count(*) FROM b_bulk", "app_restored")).toBe("300000");
    expect(await readdir(join(dir, "state", "tmp"))).toEqual([]);
  });

  it("a wrong database name fails with the client's words and leaves no snapshot", async () => {
    await using setup = await dumpSetup("mysql", startMariadb);
    const { server: m, repo: t, engine, dir } = setup;
    const ctx = recorder();
    await dumpDatabases(setup.dumpRun(planWith([entry(m, { database: "nope" })])), engine, ctx);
    expect(ctx.failures.map((f) => f.message)).toEqual([
      `database "app": mariadb-dump of "nope" failed (exit code 2): mariadb-dump: Got error: 1049: "Unknown database 'nope'" when selecting the database`,
    ]);
    expect(await t.snapshots()).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
  });

  it("writes the option file 0600 in the given temp dir and removes it on dispose", async () => {
    await using dir = await tempDir("mysql");
    await using pw = await tempDir("pw");
    const pwFile = join(pw.path, "pw");
    await run("sh", [
      "-c",
      `printf '%s\\n' "$1" > ${pwFile}; chmod 600 ${pwFile}`,
      "sh",
      MARIADB_PASSWORD,
    ]);
    const db = databaseSchema.parse({
      type: "mysql",
      name: "app",
      database: "app",
      password_file: pwFile,
    }) as MysqlDatabase;
    let path: string | undefined;
    {
      await using prepared = await mysqlDriver.prepareDump(db, {
        tmpDir: dir.path,
        signal: new AbortController().signal,
        key: "k",
      });
      const value = prepared.value;
      if (value.kind !== "command") throw new Error("expected a command");
      path = (value.args[0] ?? "").replace("--defaults-extra-file=", "");
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      expect(await readFile(path, "utf8")).toBe(optionFileText(MARIADB_PASSWORD));
      expect(value.args.join(" ")).not.toContain(MARIADB_PASSWORD);
    }
    expect(path).toMatch(/^\/.*\.cnf$/);
    expect(existsSync(path ?? "")).toBe(false);
  });

  it("escapes the option file value and builds the dump argv", () => {
    expect(optionFileText('a"b\\c d')).toBe('[client]\npassword="a\\"b\\\\c d"\n');
    const db = databaseSchema.parse({
      type: "mysql",
      name: "x",
      database: "all",
      host: "db1",
      port: 3307,
      user: "u",
      options: ["--events"],
    }) as MysqlDatabase;
    expect(dumpArgs(db)).toEqual([
      "--single-transaction",
      "--quick",
      "--routines",
      "--triggers",
      "--host=db1",
      "--port=3307",
      "--user=u",
      "--events",
      "--all-databases",
    ]);
  });
});
