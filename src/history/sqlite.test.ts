import { chmod, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { build } from "esbuild";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SnapbackError } from "../errors.js";
import { run } from "../exec/index.js";
import { HISTORY_FILE, openHistory, SCHEMA_VERSION, SqliteHistoryStore } from "./index.js";

const NODE_MODULES = join(import.meta.dirname, "../../node_modules");

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "snapback-sqlite-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

function addRun(store: SqliteHistoryStore, runId: string, plan: string, minute: number): void {
  store.startRun({
    runId,
    plan,
    repositories: ["r"],
    startedAt: new Date(Date.UTC(2025, 0, 1, 0, minute)),
    pid: process.pid,
  });
  store.finishRun(runId, {
    status: "success",
    endedAt: new Date(Date.UTC(2025, 0, 1, 0, minute, 30)),
    snapshotIds: { r: `snap-${runId}` },
    summaries: {},
    warnings: [],
    logTail: [],
  });
}

describe("SqliteHistoryStore file", () => {
  it("creates the state directory and a 0600 database in WAL mode with a schema version", async () => {
    const stateDir = join(dir, "var", "lib", "snapback");
    const store = openHistory(stateDir) as SqliteHistoryStore;
    try {
      addRun(store, "r1", "home", 0);
      expect(store.path).toBe(join(stateDir, HISTORY_FILE));
    } finally {
      store.close();
    }
    const raw = new Database(join(stateDir, HISTORY_FILE), { readonly: true });
    try {
      expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
      expect(raw.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    } finally {
      raw.close();
    }
    expect(await mode(stateDir)).toBe(0o700);
    expect(await mode(join(stateDir, HISTORY_FILE))).toBe(0o600);
  });

  it("keeps the WAL and shared-memory files private too", async () => {
    const store = openHistory(dir);
    try {
      addRun(store as SqliteHistoryStore, "r1", "home", 0);
      // While a connection is open SQLite keeps -wal and -shm next to the database.
      expect(await mode(join(dir, `${HISTORY_FILE}-wal`))).toBe(0o600);
      expect(await mode(join(dir, `${HISTORY_FILE}-shm`))).toBe(0o600);
    } finally {
      store.close();
    }
  });

  it("tightens an existing database file that others could read", async () => {
    const path = join(dir, HISTORY_FILE);
    await writeFile(path, "");
    await chmod(path, 0o644);
    new SqliteHistoryStore(path).close();
    expect(await mode(path)).toBe(0o600);
  });

  it("keeps runs across reopening", () => {
    const first = openHistory(dir) as SqliteHistoryStore;
    addRun(first, "r1", "home", 0);
    first.close();
    const second = openHistory(dir);
    try {
      expect(second.latestPerPlan().map((r) => [r.runId, r.status, r.snapshotIds])).toEqual([
        ["r1", "success", { r: "snap-r1" }],
      ]);
    } finally {
      second.close();
    }
  });

  it("refuses a database written by a newer schema, naming the file", () => {
    const path = join(dir, HISTORY_FILE);
    new SqliteHistoryStore(path).close();
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    let err: unknown;
    try {
      new SqliteHistoryStore(path).close();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SnapbackError);
    expect((err as SnapbackError).message).toBe(
      `run history ${path} has schema version ${SCHEMA_VERSION + 1}; this snapback knows up to ${SCHEMA_VERSION}`,
    );
  });

  it("names the file when it is not a database", async () => {
    const path = join(dir, HISTORY_FILE);
    await writeFile(
      path,
      "this is not sqlite, just text that is long enough to have a header".repeat(20),
    );
    expect(() => new SqliteHistoryStore(path)).toThrow(
      new RegExp(`run history ${path}: file is not a database`),
    );
  });

  it("two stores on one file see each other's runs", () => {
    const a = openHistory(dir) as SqliteHistoryStore;
    const b = openHistory(dir) as SqliteHistoryStore;
    try {
      addRun(a, "a1", "home", 0);
      addRun(b, "b1", "work", 1);
      addRun(a, "a2", "home", 2);
      expect(b.latestPerPlan().map((r) => r.runId)).toEqual(["a2", "b1"]);
      expect(a.recent().map((r) => r.runId)).toEqual(["a2", "b1", "a1"]);
    } finally {
      a.close();
      b.close();
    }
  });
});

describe("SqliteHistoryStore across processes", () => {
  it("lets another process write while this one holds a read snapshot and reads (WAL)", async () => {
    // The child runs the real store, bundled from source (Node 20 cannot run TypeScript).
    const bundle = join(dir, "store.cjs");
    await build({
      stdin: {
        contents: 'export { SqliteHistoryStore } from "./sqlite.ts";',
        resolveDir: import.meta.dirname,
        loader: "ts",
      },
      bundle: true,
      platform: "node",
      format: "cjs",
      external: ["better-sqlite3"],
      outfile: bundle,
      logLevel: "silent",
    });
    const path = join(dir, HISTORY_FILE);
    const parent = new SqliteHistoryStore(path);
    addRun(parent, "p0", "parent", 0);

    // A reader that keeps one snapshot open for the whole time the child writes: under a
    // rollback journal the child could never commit; under WAL it must.
    const reader = new Database(path, { readonly: true });
    reader.exec("BEGIN");
    const countRuns = (): number =>
      (reader.prepare("SELECT count(*) AS n FROM runs").get() as { n: number }).n;
    expect(countRuns()).toBe(1);

    const childRuns = 40;
    const seen: number[] = [];
    let parentWrites = 0;
    const child = `
      const { SqliteHistoryStore } = require(process.env.STORE_BUNDLE);
      const store = new SqliteHistoryStore(process.env.HISTORY_PATH);
      for (let i = 0; i < ${childRuns}; i++) {
        const runId = "c" + i;
        store.startRun({ runId, plan: "child", repositories: ["r"], startedAt: new Date(Date.UTC(2025, 1, 1, 0, i)), pid: process.pid });
        store.finishRun(runId, { status: "success", endedAt: new Date(Date.UTC(2025, 1, 1, 0, i, 30)),
          snapshotIds: { r: "s" + i }, summaries: {}, warnings: [], logTail: [] });
        process.stdout.write("wrote " + i + "\\n");
      }
      store.close();
    `;
    try {
      const r = await run("node", ["-e", child], {
        env: { NODE_PATH: NODE_MODULES, STORE_BUNDLE: bundle, HISTORY_PATH: path },
        onStdoutLine: () => {
          // Read (and sometimes write) through our own store while the child writes.
          seen.push(parent.recent("child", 1000).length);
          if (seen.length % 10 === 0) addRun(parent, `p${++parentWrites}`, "parent", parentWrites);
        },
      });
      expect(r.exitCode).toBe(0);
      // The held snapshot still shows the database as it was before the child started.
      expect(countRuns()).toBe(1);
    } finally {
      reader.exec("COMMIT");
      reader.close();
    }
    try {
      expect(seen).toHaveLength(childRuns);
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
      expect(seen.every((n) => n >= 1 && n <= childRuns)).toBe(true);
      expect(parentWrites).toBe(childRuns / 10);
      const children = parent.recent("child", 1000);
      expect(children).toHaveLength(childRuns);
      expect(children[0]).toMatchObject({
        runId: `c${childRuns - 1}`,
        status: "success",
        snapshotIds: { r: `s${childRuns - 1}` },
      });
      expect(parent.recent("parent", 1000)).toHaveLength(1 + parentWrites);
      // The child is gone and finished all its runs: nothing is in progress.
      expect(parent.runsInProgress()).toEqual([]);
    } finally {
      parent.close();
    }
  });
});
