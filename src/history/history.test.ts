import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { run } from "../exec/index.js";
import { startTimeOf } from "../util/proc.js";
import { MemoryHistoryStore, openHistory, type HistoryStore, type RunResult } from "./index.js";

/** One suite, every implementation: they must be indistinguishable to callers. */
const implementations: { name: string; open: (dir: string) => HistoryStore }[] = [
  { name: "MemoryHistoryStore", open: () => new MemoryHistoryStore() },
  { name: "SqliteHistoryStore", open: (dir) => openHistory(join(dir, "state")) },
];

const T0 = Date.UTC(2025, 0, 1, 3, 0, 0);
const at = (minutes: number): Date => new Date(T0 + minutes * 60_000);

function result(overrides: Partial<RunResult> = {}): RunResult {
  return {
    status: "success",
    endedAt: at(59),
    snapshotIds: {},
    summaries: {},
    warnings: [],
    logTail: [],
    ...overrides,
  };
}

/** A process of ours that is alive until the returned function ends it. */
async function liveProcess(): Promise<{
  pid: number;
  startTime: string;
  end: () => Promise<void>;
}> {
  const abort = new AbortController();
  let spawned!: (pid: number) => void;
  const pid = new Promise<number>((resolve) => (spawned = resolve));
  const exited = run("sleep", ["600"], {
    signal: abort.signal,
    killGraceMs: 1000,
    onSpawn: (child) => spawned(child.pid ?? 0),
  }).catch(() => undefined);
  const p = await pid;
  const startTime = startTimeOf(p);
  if (startTime === undefined) throw new Error("the sleep process vanished");
  return {
    pid: p,
    startTime,
    end: async () => {
      abort.abort();
      await exited;
    },
  };
}

describe.each(implementations)("$name", ({ open }) => {
  let dir: string;
  let store: HistoryStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "snapback-history-"));
    store = open(dir);
  });
  afterEach(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("records a started run as running and in progress", () => {
    store.startRun({
      runId: "r1",
      plan: "home",
      repositories: ["a", "b"],
      startedAt: at(0),
      pid: process.pid,
    });
    const [rec] = store.recent();
    expect(rec).toEqual({
      runId: "r1",
      plan: "home",
      repositories: ["a", "b"],
      status: "running",
      startedAt: "2025-01-01T03:00:00.000Z",
      endedAt: null,
      pid: process.pid,
      pidStartTime: startTimeOf(process.pid),
      snapshotIds: {},
      summaries: {},
      warnings: [],
      error: null,
      logTail: [],
    });
    expect(store.runsInProgress().map((r) => r.runId)).toEqual(["r1"]);
    // A plan whose only run is in progress has no result yet.
    expect(store.latestPerPlan()).toEqual([]);
  });

  it("completes a run with everything it was given", () => {
    store.startRun({
      runId: "r1",
      plan: "home",
      repositories: ["a", "b"],
      startedAt: at(0),
      pid: process.pid,
    });
    const summary = {
      filesNew: 3,
      filesChanged: 1,
      filesUnmodified: 1000,
      dataAdded: 4096,
      durationS: 12.5,
    };
    store.finishRun(
      "r1",
      result({
        status: "partial",
        endedAt: at(7),
        snapshotIds: { a: "4f2a9c", b: "77e1d0" },
        summaries: { a: summary, b: { ...summary, errorCount: 2 } },
        warnings: ["could not read /home/x/locked"],
        error: "1 repository incomplete",
        logTail: ["line 1", "line 2"],
      }),
    );
    const [rec] = store.recent("home");
    expect(rec).toMatchObject({
      status: "partial",
      endedAt: "2025-01-01T03:07:00.000Z",
      snapshotIds: { a: "4f2a9c", b: "77e1d0" },
      summaries: { a: summary, b: { ...summary, errorCount: 2 } },
      warnings: ["could not read /home/x/locked"],
      error: "1 repository incomplete",
      logTail: ["line 1", "line 2"],
    });
    expect(JSON.parse(JSON.stringify(rec))).toEqual(rec);
    expect(store.runsInProgress()).toEqual([]);
    expect(store.latestPerPlan()).toEqual([rec]);
  });

  it("gives the latest result of every plan, sorted by plan, skipping runs in progress", () => {
    const start = (runId: string, plan: string, minute: number): void =>
      store.startRun({ runId, plan, repositories: ["r"], startedAt: at(minute), pid: process.pid });
    start("w1", "work", 0);
    store.finishRun("w1", result({ status: "failed", error: "repository locked" }));
    start("h1", "home", 1);
    store.finishRun("h1", result({ status: "success" }));
    start("h2", "home", 2);
    store.finishRun("h2", result({ status: "partial" }));
    start("w2", "work", 3);
    store.finishRun("w2", result({ status: "success" }));
    start("h3", "home", 4); // still running (this process)
    start("db1", "db", 5); // only a running run

    expect(store.latestPerPlan().map((r) => [r.plan, r.runId, r.status])).toEqual([
      ["home", "h2", "partial"],
      ["work", "w2", "success"],
    ]);
    expect(store.runsInProgress().map((r) => r.runId)).toEqual(["db1", "h3"]);
  });

  it("lists recent runs newest first, by plan, with a limit; ties keep insertion order", () => {
    for (let i = 0; i < 5; i++) {
      store.startRun({
        runId: `h${i}`,
        plan: "home",
        repositories: ["r"],
        startedAt: at(i),
        pid: process.pid,
      });
      store.finishRun(`h${i}`, result());
    }
    store.startRun({
      runId: "w0",
      plan: "work",
      repositories: ["r"],
      startedAt: at(2),
      pid: process.pid,
    });
    store.startRun({
      runId: "w1",
      plan: "work",
      repositories: ["r"],
      startedAt: at(2),
      pid: process.pid,
    });

    expect(store.recent().map((r) => r.runId)).toEqual(["h4", "h3", "w1", "w0", "h2", "h1", "h0"]);
    expect(store.recent("home", 2).map((r) => r.runId)).toEqual(["h4", "h3"]);
    expect(store.recent("work").map((r) => r.runId)).toEqual(["w1", "w0"]);
    expect(store.recent("nope")).toEqual([]);
    expect(() => store.recent(undefined, 0)).toThrow(/limit/);
  });

  it("reports a run whose process died as interrupted, not in progress", async () => {
    const proc = await liveProcess();
    try {
      store.startRun({
        runId: "k1",
        plan: "home",
        repositories: ["r"],
        startedAt: at(0),
        pid: proc.pid,
      });
      expect(store.recent()[0]?.pidStartTime).toBe(proc.startTime);
      expect(store.runsInProgress().map((r) => r.runId)).toEqual(["k1"]);
      expect(store.latestPerPlan()).toEqual([]);
    } finally {
      await proc.end();
    }
    expect(store.runsInProgress()).toEqual([]);
    const [latest] = store.latestPerPlan();
    expect(latest).toMatchObject({ runId: "k1", status: "interrupted", endedAt: null });
    expect(store.recent()[0]?.status).toBe("interrupted");
  });

  it("does not take a recycled pid (same pid, other start time) for the run's process", () => {
    store.startRun({
      runId: "old",
      plan: "home",
      repositories: ["r"],
      startedAt: at(0),
      pid: process.pid,
      pidStartTime: "1",
    });
    expect(store.runsInProgress()).toEqual([]);
    expect(store.latestPerPlan()[0]?.status).toBe("interrupted");
  });

  it("refuses to start a run twice or to finish an unknown run", () => {
    store.startRun({
      runId: "r1",
      plan: "home",
      repositories: ["r"],
      startedAt: at(0),
      pid: process.pid,
    });
    expect(() =>
      store.startRun({
        runId: "r1",
        plan: "home",
        repositories: ["r"],
        startedAt: at(1),
        pid: process.pid,
      }),
    ).toThrow(/r1 was already started/);
    expect(() => store.finishRun("r2", result())).toThrow(/r2 was never started/);
  });

  it("returns copies: changing a returned record or the given arrays changes nothing stored", () => {
    const repositories = ["r"];
    store.startRun({ runId: "r1", plan: "home", repositories, startedAt: at(0), pid: process.pid });
    repositories.push("s");
    const warnings = ["w"];
    store.finishRun("r1", result({ warnings }));
    warnings.push("x");
    const rec = store.recent()[0];
    rec?.warnings.push("y");
    expect(store.recent()[0]).toMatchObject({ repositories: ["r"], warnings: ["w"] });
  });

  it("stores text verbatim: redacting secrets is the caller's job (see HistoryStore)", () => {
    store.startRun({
      runId: "r1",
      plan: "home",
      repositories: ["r"],
      startedAt: at(0),
      pid: process.pid,
    });
    store.finishRun(
      "r1",
      result({ status: "failed", error: "restic: wrong password ***", logTail: ["***"] }),
    );
    expect(store.recent()[0]).toMatchObject({
      error: "restic: wrong password ***",
      logTail: ["***"],
    });
  });

  it("is disposable", () => {
    {
      using s = store;
      s.startRun({
        runId: "r1",
        plan: "home",
        repositories: ["r"],
        startedAt: at(0),
        pid: process.pid,
      });
    }
    expect(() => store.recent()).toThrow();
    expect(() =>
      store.startRun({ runId: "r2", plan: "home", repositories: ["r"], startedAt: at(1), pid: 1 }),
    ).toThrow();
    // close() is idempotent: afterEach closes again.
    expect(() => store.close()).not.toThrow();
  });
});
