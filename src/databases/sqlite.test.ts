import { existsSync } from "node:fs";
import { chmod, readdir, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { storedDumpPath } from "../../test/fixtures/restic.js";
import { UsageError } from "../errors.js";
import { run, type RunResult } from "../exec/index.js";
import { dumpDatabases } from "./dump.js";
import { restoreDatabase } from "./restore.js";
import { integrityCheck } from "./sqlite.js";
import { dumpSetup, planWith, recorder } from "./test-support.js";

const ROOT = resolve(import.meta.dirname, "../..");

async function sqlite(db: string, sql: string): Promise<string> {
  return (await run("sqlite3", ["-bail", "-cmd", ".timeout 60000", db, sql])).stdout.trim();
}

/**
 * Same shape as the PostgreSQL test: each writer transaction puts id i into a_events and
 * c_events; b_bulk between them makes the copy take a while.
 */
async function createDb(path: string, journal: "wal" | "delete", bulkRows: number): Promise<void> {
  await sqlite(
    path,
    `PRAGMA journal_mode=${journal};
     CREATE TABLE a_events (id INTEGER PRIMARY KEY);
     CREATE TABLE b_bulk (id INTEGER PRIMARY KEY, filler TEXT);
     CREATE TABLE c_events (id INTEGER PRIMARY KEY);
     WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ${bulkRows})
       INSERT INTO b_bulk SELECT n, hex(randomblob(64)) FROM g;`,
  );
}

/** A separate process committing one id per transaction until `stop` exists. */
async function startWriter(db: string, stopFile: string): Promise<{ stop(): Promise<number> }> {
  const script = `
    const Database = require("better-sqlite3");
    const fs = require("node:fs");
    const db = new Database(process.argv[1]);
    db.pragma("busy_timeout = 60000");
    const a = db.prepare("INSERT INTO a_events VALUES (?)");
    const c = db.prepare("INSERT INTO c_events VALUES (?)");
    const tx = db.transaction((i) => { a.run(i); c.run(i); });
    let i = 0;
    while (!fs.existsSync(process.argv[2])) tx(++i);
    db.close();
  `;
  const running: Promise<RunResult> = run(process.execPath, ["-e", script, db, stopFile], {
    cwd: ROOT,
    reject: false,
  });
  while (Number(await sqlite(db, "SELECT count(*) FROM a_events")) < 100) await sleep(20);
  return {
    async stop() {
      await writeFile(stopFile, "");
      const r = await running;
      if (r.exitCode !== 0) throw new Error(`writer failed: ${r.stderr}`);
      return Number(await sqlite(db, "SELECT max(id) FROM a_events"));
    },
  };
}

describe("SQLite dumps (real sqlite3, real restic)", () => {
  it.each(["wal", "delete"] as const)(
    "copies one consistent instant while a writer commits (journal_mode=%s); the restored file passes integrity_check",
    async (journal) => {
      await using setup = await dumpSetup("sqlite");
      const { engine, dir } = setup;
      const db = join(dir, "app.sqlite");
      const runDir = join(dir, "run");
      await run("mkdir", ["-m", "700", runDir]);
      await createDb(db, journal, 200_000);
      const plan = planWith([{ type: "sqlite", name: "app", path: db }]);

      const writer = await startWriter(db, join(dir, "stop"));
      const before = Number(await sqlite(db, "SELECT max(id) FROM a_events"));
      const ctx = recorder();
      await dumpDatabases(setup.dumpRun(plan, runDir), engine, ctx);
      const after = await writer.stop();

      expect(ctx.failures).toEqual([]);
      expect(ctx.summaries[0]).toMatchObject({
        database: "app",
        db_type: "sqlite",
        path: await storedDumpPath("/snapback-databases/p/app.sqlite"),
      });
      // The copy was made in the run's temp dir and is gone.
      expect(await readdir(runDir)).toEqual([]);

      const restored = join(dir, "restored.sqlite");
      const r = await restoreDatabase(setup.restoreRequest(plan, { to: { file: restored } }));
      expect(r.format).toBe("sqlite");
      expect(await integrityCheck(restored)).toBe("ok");
      expect((await stat(restored)).mode & 0o777).toBe(0o600);
      const [count, min, max] = (
        await sqlite(restored, "SELECT count(*), min(id), max(id) FROM a_events")
      )
        .split("|")
        .map(Number);
      expect(min).toBe(1);
      expect(count).toBe(max);
      expect(await sqlite(restored, "SELECT count(*), min(id), max(id) FROM c_events")).toBe(
        `${count}|1|${max}`,
      );
      expect(max).toBeGreaterThanOrEqual(before);
      expect(max).toBeLessThan(after);
      expect(await sqlite(restored, "SELECT count(*) FROM b_bulk")).toBe("200000");
    },
  );

  it("a missing database file fails clearly (no empty database created) and leaves no snapshot", async () => {
    await using setup = await dumpSetup("sqlite");
    const { repo: t, engine, dir } = setup;
    const missing = join(dir, "nope.sqlite");
    const plan = planWith([{ type: "sqlite", name: "app", path: missing }]);
    const ctx = recorder();
    await dumpDatabases(setup.dumpRun(plan), engine, ctx);
    expect(ctx.failures.map((f) => f.message)).toEqual([
      `database "app": copying ${missing} with sqlite3 failed (exit code 1): Error: unable to open database "${missing}": unable to open database file`,
    ]);
    expect(existsSync(missing)).toBe(false);
    expect(await t.snapshots()).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
  });

  it("restores over the live file only with --overwrite, keeping its mode and dropping its stale WAL", async () => {
    await using setup = await dumpSetup("sqlite");
    const { engine, dir } = setup;
    const db = join(dir, "app.sqlite");
    await createDb(db, "wal", 10);
    await sqlite(db, "INSERT INTO a_events VALUES (1), (2), (3)");
    const plan = planWith([{ type: "sqlite", name: "app", path: db }]);
    const ctx = recorder();
    await dumpDatabases(setup.dumpRun(plan), engine, ctx);
    expect(ctx.failures).toEqual([]);

    await sqlite(db, "DELETE FROM a_events");
    await chmod(db, 0o640);
    const base = setup.restoreRequest(plan, { to: { file: db } });
    const refused = await restoreDatabase({ ...base, overwrite: false }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UsageError);
    expect((refused as Error).message).toBe(`--to-file ${db} exists`);
    expect(await sqlite(db, "SELECT count(*) FROM a_events")).toBe("0");

    // A WAL holding the DELETE, as a crashed or still-running application would leave it.
    await writeFile(`${db}-wal`, "stale");
    await restoreDatabase({ ...base, overwrite: true });
    expect(existsSync(`${db}-wal`)).toBe(false);
    expect((await stat(db)).mode & 0o777).toBe(0o640);
    expect(await sqlite(db, "SELECT group_concat(id) FROM a_events")).toBe("1,2,3");
    // No temp file beside it, no journal.
    expect((await readdir(dir)).filter((n) => n.startsWith(".snapback"))).toEqual([]);

    const toDb = await restoreDatabase({ ...base, to: { database: "x" }, overwrite: false }).catch(
      (e: unknown) => e,
    );
    expect((toDb as Error).message).toBe(
      'database "app" is a SQLite database: it is restored as a file',
    );
  });
});
