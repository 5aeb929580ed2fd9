import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { storedDumpPath } from "./fixtures/restic.js";
import { watchArgv } from "../src/databases/test-support.js";
import { run } from "../src/exec/index.js";
import { createWorld, leftovers, type World, jsonEvents } from "./fixtures/cli.js";
import { PG_PASSWORD, startPostgres, type TestPostgres } from "./fixtures/postgres.js";

/**
 * Database dumps through the built CLI: `[[plans.p.databases]]` in the config, dumps as their
 * own snapshots after the filesystem backup, `restore --database`.
 */

const events = jsonEvents;

function postgresEntry(pg: TestPostgres, name: string, database: string): string {
  return [
    "[[plans.p.databases]]",
    'type = "postgresql"',
    `name = "${name}"`,
    `database = "${database}"`,
    'host = "127.0.0.1"',
    `port = ${pg.port}`,
    'user = "postgres"',
    `password_file = "${pg.passwordFile}"`,
  ].join("\n");
}

const sqliteEntry = (path: string): string =>
  ["[[plans.p.databases]]", 'type = "sqlite"', 'name = "notes"', `path = "${path}"`].join("\n");

async function sqlite(db: string, sql: string): Promise<string> {
  return (await run("sqlite3", [db, sql])).stdout.trim();
}

async function prepare(w: World, pg: TestPostgres): Promise<string> {
  await pg.sql("CREATE DATABASE app");
  await pg.sql(
    "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500) g",
    "app",
  );
  const notes = join(w.dir, "notes.sqlite");
  await sqlite(
    notes,
    "PRAGMA journal_mode=WAL; CREATE TABLE n (t TEXT); INSERT INTO n VALUES ('first'), ('second');",
  );
  await writeFile(join(w.data, "file.txt"), "a file\n");
  return notes;
}

describe("database dumps end to end (real PostgreSQL, SQLite, btrfs, restic)", () => {
  test("backup dumps each database as its own snapshot; restore --database loads it back; file restores still pick the files", async () => {
    await using w = await createWorld();
    await using pg = await startPostgres();
    const notes = await prepare(w, pg);
    await w.writeConfig(
      w.basicConfig([w.data], `${postgresEntry(pg, "app", "app")}\n${sqliteEntry(notes)}`),
    );

    const watched = await watchArgv(PG_PASSWORD, () => w.cli(["--json", "backup"]));
    const backup = watched.value;
    expect(backup.stderr).not.toMatch(/error/);
    expect(backup.exitCode).toBe(0);
    // The sampler saw the run at work. Not pg_dump itself: dumping 500 rows takes a few ms,
    // often less than one sampling sweep of /proc on a busy machine (with restic 0.18 it was
    // missed every time). pg_dump's argv is checked deterministically in postgres.test.ts;
    // that it ran shows below, where its dump is restored.
    expect(watched.programs.has("restic")).toBe(true);
    expect(watched.leaks).toEqual([]);
    expect(backup.stdout + backup.stderr).not.toContain(PG_PASSWORD);
    const ev = events(backup.stdout);
    const dumps = ev.filter((e) => e.type === "database_summary");
    expect(dumps.map((e) => [e["database"], e["repository"], e["path"]])).toEqual([
      ["app", "r", await storedDumpPath("/snapback-databases/p/app.pg_dump")],
      ["notes", "r", await storedDumpPath("/snapback-databases/p/notes.sqlite")],
    ]);
    expect(ev.find((e) => e.type === "result")).toMatchObject({ status: "success" });

    const snaps = await w.repo.snapshots();
    expect(snaps.map((s) => s.paths)).toEqual([
      [w.data],
      [await storedDumpPath("/snapback-databases/p/app.pg_dump")],
      [await storedDumpPath("/snapback-databases/p/notes.sqlite")],
    ]);
    expect(snaps[1]?.tags).toEqual(expect.arrayContaining(["plan-db:p", "database:app"]));
    expect(snaps[1]?.tags).not.toContain("plan:p");

    // Loaded into a fresh database by pg_restore.
    await pg.sql("CREATE DATABASE app_restored");
    const restored = await w.cli([
      "--json",
      "restore",
      "p",
      "--database",
      "app",
      "--to-database",
      "app_restored",
    ]);
    expect(restored.stderr).toBe("");
    expect(restored.exitCode).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({
      plan: "p",
      repository: "r",
      database: "app",
      format: "pg_dump",
      to_database: "app_restored",
      snapshot: dumps[0]?.["snapshot_id"],
    });
    expect(await pg.sql("SELECT count(*), max(name) FROM items", "app_restored")).toBe(
      "500|item 99",
    );

    // SQLite as a file; never over an existing one without --overwrite.
    const notesCopy = join(w.dir, "notes-restored.sqlite");
    const r1 = await w.cli(["restore", "p", "--database", "notes", "--to-file", notesCopy]);
    expect(r1.exitCode).toBe(0);
    expect(r1.stdout).toMatch(
      /^restored database notes \(dump [0-9a-f]{8} of .*\) from r into .*notes-restored\.sqlite\n$/,
    );
    expect(await sqlite(notesCopy, "SELECT group_concat(t) FROM n")).toBe("first,second");
    const r2 = await w.cli(["restore", "p", "--database", "notes", "--to-file", notesCopy]);
    expect(r2.exitCode).toBe(2);
    expect(r2.stderr).toContain(`--to-file ${notesCopy} exists`);

    // The dump to stdout is the stored file byte for byte.
    const toStdout = await run("sh", [
      "-c",
      `node "$1" --config "$2" restore p --database app --to-file - | sha256sum`,
      "sh",
      join(import.meta.dirname, "../dist/snapback.js"),
      w.configPath,
    ]);
    const direct = await run(
      "sh",
      [
        "-c",
        `restic -r "$1" --no-cache dump "$2" ${await storedDumpPath("/snapback-databases/p/app.pg_dump")} | sha256sum`,
        "sh",
        w.repo.url,
        String(dumps[0]?.["snapshot_id"]),
      ],
      {
        env: { RESTIC_PASSWORD: (await readFile(w.repo.passwordFile, "utf8")).trim() },
      },
    );
    expect(toStdout.stdout).toBe(direct.stdout);

    // "latest" of a file restore is the filesystem backup, not the newer dumps.
    const target = join(w.dir, "files");
    const files = await w.cli(["restore", "p", "--target", target]);
    expect(files.exitCode).toBe(0);
    expect(await readFile(join(target, w.data, "file.txt"), "utf8")).toBe("a file\n");
    expect(await readdir(target)).not.toContain("snapback-databases");

    // The second backup still finds the filesystem parent: nothing new.
    const second = await w.cli(["--json", "backup"]);
    expect(second.exitCode).toBe(0);
    expect(events(second.stdout).find((e) => e.type === "summary")).toMatchObject({
      files_new: 0,
      files_unmodified: 1,
    });
    expect(await leftovers(w)).toEqual([]);
  });

  test("a dump that fails (wrong database name) fails the run with the database named, and leaves no dump snapshot", async () => {
    await using w = await createWorld();
    await using pg = await startPostgres();
    await prepare(w, pg);
    await w.writeConfig(w.basicConfig([w.data], postgresEntry(pg, "app", "nope")));
    const r = await w.cli(["--json", "backup"]);
    expect(r.exitCode).toBe(1);
    const ev = events(r.stdout);
    const error = ev.find((e) => e.type === "error");
    expect(error?.["message"]).toMatch(
      /^database "app": pg_dump of "nope" failed \(exit code 1\): pg_dump: error: .*database "nope" does not exist$/,
    );
    expect(ev.find((e) => e.type === "result")).toMatchObject({ status: "failed" });
    // The filesystem backup exists; no dump does.
    expect((await w.repo.snapshots()).map((s) => s.paths)).toEqual([[w.data]]);
    expect(r.stdout + r.stderr).not.toContain(PG_PASSWORD);
    expect(await leftovers(w)).toEqual([]);
  });

  test("restore --database checks its flags before touching anything", async () => {
    await using w = await createWorld();
    await w.writeConfig(w.basicConfig([w.data]));
    const cases: [string[], RegExp][] = [
      [
        ["restore", "p", "--database", "app", "--target", "/tmp/x", "--to-file", "/tmp/y"],
        /--target, --path and --writable restore files/,
      ],
      [["restore", "p", "--to-database", "x"], /name it with --database NAME/],
      [
        ["restore", "p", "--database", "app"],
        /needs exactly one of --to-database DB and --to-file PATH/,
      ],
      [
        ["restore", "p", "--database", "app", "--to-database", "a", "--to-file", "/tmp/y"],
        /needs exactly one of/,
      ],
      [
        ["restore", "p", "--database", "app", "--to-database", "host=evil password=x"],
        /not a connection string/,
      ],
      [
        ["--json", "restore", "p", "--database", "app", "--to-file", "-"],
        /--json needs for itself/,
      ],
      [
        ["restore", "p", "--database", "app", "--to-database", "x"],
        /plan "p" has no database "app" \(its databases: none\)/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await w.cli(args);
      expect(r.exitCode, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    expect(await w.repo.snapshots()).toEqual([]);
  });
});
