import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { PG_PASSWORD, startPostgres, type TestPostgres } from "../../test/fixtures/postgres.js";
import { storedDumpPath } from "../../test/fixtures/restic.js";
import { UsageError } from "../errors.js";
import { dumpDatabases } from "./dump.js";
import { restoreDatabase } from "./restore.js";
import { dumpSetup, planWith, recorder, watchArgv } from "./test-support.js";

/**
 * A database whose consistency is checkable: every transaction of the writer inserts the
 * same id into a_events and c_events, ids counting up from 1. Between the two tables pg_dump
 * copies b_bulk, which takes a while. A dump from one snapshot holds both tables with the
 * same gap-free ids 1..N; a dump that read each table at its own time would hold more rows
 * in c_events than in a_events.
 */
async function createApp(pg: TestPostgres, bulkRows = 1_000_000): Promise<void> {
  await pg.sql("CREATE DATABASE app");
  await pg.sql(
    `CREATE TABLE a_events (id int PRIMARY KEY);
     CREATE TABLE b_bulk (id int PRIMARY KEY, filler text);
     CREATE TABLE c_events (id int PRIMARY KEY);
     CREATE TABLE stop_flag (x int);
     INSERT INTO b_bulk SELECT g, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, ${bulkRows}) g;
     CREATE PROCEDURE writer() LANGUAGE plpgsql AS $$
     DECLARE i int := 0;
     BEGIN
       LOOP
         EXIT WHEN EXISTS (SELECT 1 FROM stop_flag);
         i := i + 1;
         INSERT INTO a_events VALUES (i);
         INSERT INTO c_events VALUES (i);
         COMMIT;
       END LOOP;
     END $$;`,
    "app",
  );
}

/** Runs the writer (one transaction per id) until the returned stop() is called. */
async function startWriter(pg: TestPostgres): Promise<{ stop(): Promise<number> }> {
  const running = pg.psql(["-c", "CALL writer()"], "app");
  while (Number(await pg.sql("SELECT count(*) FROM a_events", "app")) < 100) await sleep(20);
  return {
    async stop() {
      await pg.sql("INSERT INTO stop_flag VALUES (1)", "app");
      const r = await running;
      if (r.exitCode !== 0) throw new Error(`writer failed: ${r.stderr}`);
      return Number(await pg.sql("SELECT max(id) FROM a_events", "app"));
    },
  };
}

async function idStats(
  pg: TestPostgres,
  db: string,
  table: string,
): Promise<{ count: number; min: number; max: number }> {
  const [count, min, max] = (await pg.sql(`SELECT count(*), min(id), max(id) FROM ${table}`, db))
    .split("|")
    .map(Number);
  return { count: count ?? -1, min: min ?? -1, max: max ?? -1 };
}

const tcpEntry = (pg: TestPostgres, extra: object = {}) => ({
  type: "postgresql",
  name: "app",
  database: "app",
  host: "127.0.0.1",
  port: pg.port,
  user: "postgres",
  password_file: pg.passwordFile,
  ...extra,
});

describe("PostgreSQL dumps (real PostgreSQL, real restic)", () => {
  it("dumps one consistent instant during concurrent inserts; restores into a fresh database; the password is never in argv", async () => {
    await using setup = await dumpSetup("run", startPostgres);
    const { server: pg, repo: t, engine } = setup;
    await createApp(pg);
    const plan = planWith([tcpEntry(pg)], ["nightly"]);

    const writer = await startWriter(pg);
    const before = Number(await pg.sql("SELECT max(id) FROM a_events", "app"));
    const ctx = recorder();
    const watched = await watchArgv(PG_PASSWORD, () =>
      dumpDatabases(setup.dumpRun(plan), engine, ctx),
    );
    const after = await writer.stop();

    expect(ctx.failures).toEqual([]);
    expect(watched.programs.has("pg_dump")).toBe(true);
    expect(watched.leaks).toEqual([]);
    const [summary] = ctx.summaries;
    expect(summary).toMatchObject({
      plan: "p",
      repository: "r",
      database: "app",
      db_type: "postgresql",
      path: await storedDumpPath("/snapback-databases/p/app.pg_dump"),
    });
    const snaps = await t.snapshots();
    expect(snaps.map((s) => s.id)).toEqual([summary?.snapshot_id]);
    expect(snaps[0]?.paths).toEqual([await storedDumpPath("/snapback-databases/p/app.pg_dump")]);
    expect([...(snaps[0]?.tags ?? [])].sort()).toEqual(["database:app", "nightly", "plan-db:p"]);

    await pg.sql("CREATE DATABASE app_restored");
    const restored = await restoreDatabase(setup.restoreRequest(plan));
    expect(restored).toMatchObject({ format: "pg_dump", bytes: summary?.bytes });

    const a = await idStats(pg, "app_restored", "a_events");
    const c = await idStats(pg, "app_restored", "c_events");
    // A gap-free prefix 1..N, the same N in both tables: one snapshot.
    expect(a.min).toBe(1);
    expect(a.count).toBe(a.max);
    expect(c).toEqual(a);
    // N is the writer's count at some instant during the dump; the writer went on after it.
    expect(a.max).toBeGreaterThanOrEqual(before);
    expect(a.max).toBeLessThan(after);
    expect(await pg.sql("SELECT count(*) FROM b_bulk", "app_restored")).toBe("1000000");
  });

  it("plain format as the postgres OS user (peer authentication over the socket), loaded back with psql", async () => {
    await using setup = await dumpSetup("run", startPostgres);
    const { server: pg, engine } = setup;
    await createApp(pg, 1000);
    await pg.sql("INSERT INTO a_events SELECT g FROM generate_series(1, 50) g", "app");
    const plan = planWith([
      {
        type: "postgresql",
        name: "app",
        database: "app",
        format: "plain",
        host: pg.socketDir,
        port: pg.port,
        os_user: "postgres",
      },
    ]);
    const ctx = recorder();
    await dumpDatabases(setup.dumpRun(plan), engine, ctx);
    expect(ctx.failures).toEqual([]);
    expect(ctx.summaries[0]?.path).toBe(
      await storedDumpPath("/snapback-databases/p/app.pg_dump.sql"),
    );

    await pg.sql("CREATE DATABASE app_restored");
    await restoreDatabase(
      setup.restoreRequest(plan, {
        snapshot: ctx.summaries[0]?.snapshot_id.slice(0, 10) ?? "",
      }),
    );
    expect(await idStats(pg, "app_restored", "a_events")).toEqual({ count: 50, min: 1, max: 50 });
    expect(await pg.sql("SELECT count(*) FROM b_bulk", "app_restored")).toBe("1000");
  });

  it("a wrong database name fails with pg_dump's words and leaves no snapshot; the plan's next database is still dumped", async () => {
    await using setup = await dumpSetup("run", startPostgres);
    const { server: pg, repo: t, engine } = setup;
    await createApp(pg, 10);
    const plan = planWith([tcpEntry(pg, { name: "typo", database: "nope" }), tcpEntry(pg)]);
    const ctx = recorder();
    await dumpDatabases(setup.dumpRun(plan), engine, ctx);

    expect(ctx.failures).toHaveLength(1);
    expect(ctx.failures[0]?.repository).toBe("r");
    expect(ctx.failures[0]?.message).toMatch(
      /^database "typo": pg_dump of "nope" failed \(exit code 1\): pg_dump: error: connection to server at "127\.0\.0\.1", port \d+ failed: FATAL: {2}database "nope" does not exist$/,
    );
    expect(ctx.failures[0]?.message).not.toContain(PG_PASSWORD);
    expect(ctx.summaries.map((s) => s.database)).toEqual(["app"]);
    expect((await t.snapshots()).map((s) => s.paths[0])).toEqual([
      await storedDumpPath("/snapback-databases/p/app.pg_dump"),
    ]);
  });

  it("a dump whose server connection dies halfway leaves no snapshot", async () => {
    await using setup = await dumpSetup("run", startPostgres);
    const { server: pg, repo: t, engine } = setup;
    await createApp(pg, 2_000_000);
    const plan = planWith([tcpEntry(pg)]);
    const ctx = recorder();
    const dumping = dumpDatabases(setup.dumpRun(plan), engine, ctx);
    // Kill pg_dump's server session while it copies the big table: its output so far has
    // already gone to restic.
    let killed = "";
    while (killed !== "t") {
      killed = await pg.sql(
        "SELECT coalesce(bool_or(pg_terminate_backend(pid)), false) FROM pg_stat_activity WHERE application_name = 'pg_dump' AND query LIKE 'COPY public.b_bulk%'",
      );
    }
    await dumping;
    expect(ctx.summaries).toEqual([]);
    expect(ctx.failures[0]?.message).toMatch(
      /^database "app": pg_dump of "app" failed \(exit code 1\): [\s\S]*(terminating connection|server closed the connection)/,
    );
    expect(await t.snapshots()).toEqual([]);
    expect((await t.restic(["list", "locks", "--no-lock"])).trim()).toBe("");
  });

  it('database = "all" is a pg_dumpall dump: refused for --to-database, written to a file (never over one without --overwrite)', async () => {
    await using setup = await dumpSetup("run", startPostgres);
    const { server: pg, engine, dir } = setup;
    await createApp(pg, 10);
    const plan = planWith([tcpEntry(pg, { name: "cluster", database: "all" })]);
    const ctx = recorder();
    await dumpDatabases(setup.dumpRun(plan), engine, ctx);
    expect(ctx.failures).toEqual([]);
    expect(ctx.summaries[0]?.path).toBe(
      await storedDumpPath("/snapback-databases/p/cluster.pg_dumpall.sql"),
    );

    const base = setup.restoreRequest(plan, { name: "cluster" });
    const refused = await restoreDatabase({ ...base, to: { database: "postgres" } }).catch(
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(UsageError);
    expect((refused as Error).message).toBe(
      'database "cluster" is a pg_dumpall dump of a whole cluster (roles and every database): it is not loaded into one database',
    );

    const file = join(dir, "cluster.sql");
    await writeFile(file, "existing\n");
    const exists = await restoreDatabase({ ...base, to: { file } }).catch((e: unknown) => e);
    expect((exists as Error).message).toBe(`--to-file ${file} exists`);
    expect(await readFile(file, "utf8")).toBe("existing\n");

    const r = await restoreDatabase({ ...base, to: { file }, overwrite: true });
    const sql = await readFile(file, "utf8");
    expect(sql).toContain("CREATE DATABASE app");
    expect(sql).toContain("COPY public.a_events");
    expect(r.bytes).toBe(Buffer.byteLength(sql));
  });

  it("a load that fails is rolled back: the target database is left as it was", async () => {
    await using setup = await dumpSetup("run", startPostgres);
    const { server: pg, engine, dir } = setup;
    await createApp(pg, 10);
    await pg.sql("INSERT INTO a_events SELECT g FROM generate_series(1, 5) g", "app");
    const plan = planWith([tcpEntry(pg)]);
    await dumpDatabases(setup.dumpRun(plan), engine, recorder());
    // The target already has c_events: the restore's CREATE TABLE c_events fails.
    await pg.sql("CREATE DATABASE busy");
    await pg.sql("CREATE TABLE c_events (id int); INSERT INTO c_events VALUES (42)", "busy");
    const err = await restoreDatabase(
      setup.restoreRequest(plan, { to: { database: "busy" } }),
    ).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(
      /^database "app": pg_restore into "busy" failed \(exit code 1\): [\s\S]*relation "c_events" already exists/,
    );
    expect(
      await pg.sql(
        "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'",
        "busy",
      ),
    ).toBe("c_events");
    expect(await pg.sql("SELECT id FROM c_events", "busy")).toBe("42");
    // The journaled temp dir of the restore is gone again.
    expect((await stat(join(dir, "state", "tmp"))).isDirectory()).toBe(true);
    expect(await readdirSafe(join(dir, "state", "tmp"))).toEqual([]);
    expect(await readdirSafe(join(dir, "state", "journal"))).toEqual([]);
  });
});

async function readdirSafe(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}
