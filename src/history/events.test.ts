import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LiveEvents, MemoryHistoryStore, openHistory, type HistoryStore } from "./index.js";

const implementations: { name: string; open: (dir: string) => HistoryStore }[] = [
  { name: "MemoryHistoryStore", open: () => new MemoryHistoryStore() },
  { name: "SqliteHistoryStore", open: (dir) => openHistory(join(dir, "state")) },
];

describe.each(implementations)("$name: events, pages, audit", ({ open }) => {
  let dir: string;
  let store: HistoryStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "snapback-history-events-"));
    store = open(dir);
  });
  afterEach(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const start = (runId: string, plan: string, hour: number): void =>
    store.startRun({
      runId,
      plan,
      repositories: ["r"],
      startedAt: new Date(Date.UTC(2025, 0, 1, hour)),
      pid: process.pid,
    });
  const finish = (runId: string): void =>
    store.finishRun(runId, {
      status: "success",
      endedAt: new Date(),
      snapshotIds: {},
      summaries: {},
      warnings: [],
      logTail: [],
    });

  it("keeps events in order with sequence numbers; progress goes when the run finishes", () => {
    expect(store.lastEventSeq()).toBe(0);
    start("r1", "home", 0);
    store.appendEvent("r1", "home", { type: "start" });
    store.appendEvent("r1", "home", { type: "progress", percent_done: 0.5 } as { type: string });
    store.appendEvent("r2", "work", { type: "start" });
    const all = store.eventsAfter(0);
    expect(all.map((e) => [e.runId, e.plan, e.event.type])).toEqual([
      ["r1", "home", "start"],
      ["r1", "home", "progress"],
      ["r2", "work", "start"],
    ]);
    expect(all.map((e) => e.seq)).toEqual([...all.map((e) => e.seq)].sort((a, b) => a - b));
    expect(store.lastEventSeq()).toBe(all.at(-1)?.seq);
    expect(store.eventsAfter(all[0]?.seq ?? 0, 1).map((e) => e.event.type)).toEqual(["progress"]);
    finish("r1");
    expect(store.runEvents("r1").map((e) => e.event)).toEqual([{ type: "start" }]);
  });

  it("pages runs by plan with a run-id cursor and gets one run", () => {
    for (let i = 0; i < 6; i++) start(`r${i}`, i % 2 ? "odd" : "even", i);
    const ids = (q: { plan?: string; limit: number; before?: string }): string[] =>
      store.page(q).map((r) => r.runId);
    expect(ids({ limit: 3 })).toEqual(["r5", "r4", "r3"]);
    expect(ids({ limit: 3, before: "r3" })).toEqual(["r2", "r1", "r0"]);
    expect(ids({ limit: 3, before: "r0" })).toEqual([]);
    expect(ids({ limit: 2, plan: "odd", before: "r5" })).toEqual(["r3", "r1"]);
    expect(ids({ limit: 2, before: "nope" })).toEqual([]);
    expect(store.get("r2")?.plan).toBe("even");
    expect(store.get("nope")).toBeUndefined();
  });

  it("keeps an audit trail, newest first", () => {
    store.addAudit({
      at: "2025-01-01T00:00:00Z",
      user: "alice",
      action: "backup",
      target: "home",
      detail: { run_id: "r1" },
    });
    store.addAudit({
      at: "2025-01-01T00:01:00Z",
      user: "bob",
      action: "cancel",
      target: "r1",
      detail: {},
    });
    expect(store.audit().map((a) => [a.user, a.action, a.target, a.detail])).toEqual([
      ["bob", "cancel", "r1", {}],
      ["alice", "backup", "home", { run_id: "r1" }],
    ]);
    expect(store.audit(1)).toHaveLength(1);
  });
});

describe("LiveEvents", () => {
  it("records every event of a run but progress at most once per interval, redacted", () => {
    const store = new MemoryHistoryStore();
    let now = 0;
    const live = new LiveEvents(store, {
      progressEveryMs: 1000,
      now: () => now,
      redact: (t) => t.replaceAll("hunter2", "***"),
    });
    live.record({ type: "start", plan: "home", run_id: "r1" });
    for (let i = 0; i < 10; i++) {
      now = i * 300; // 0, 300, ..., 2700 ms: written at 0, 1200, 2400
      live.record({ type: "progress", plan: "home" });
    }
    live.record({ type: "warning", plan: "home", message: "password hunter2 rejected" } as never);
    live.record({ type: "result", plan: "home", run_id: "r1" });
    live.record({ type: "progress", plan: "home" }); // after the result: no run to attach to
    const events = store.eventsAfter(0).map((e) => e.event);
    expect(events.map((e) => e.type)).toEqual([
      "start",
      "progress",
      "progress",
      "progress",
      "warning",
      "result",
    ]);
    expect(events[4]).toMatchObject({ message: "password *** rejected" });
    expect(store.eventsAfter(0).every((e) => e.runId === "r1")).toBe(true);
  });

  it("never fails the run when the store does: it reports once", () => {
    const store = new MemoryHistoryStore();
    store.close();
    const errors: unknown[] = [];
    const live = new LiveEvents(store, { onError: (e) => errors.push(e) });
    live.record({ type: "start", plan: "home", run_id: "r1" });
    live.record({ type: "result", plan: "home", run_id: "r1" });
    expect(errors).toHaveLength(1);
  });
});
