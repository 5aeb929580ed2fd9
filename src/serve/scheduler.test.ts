import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseConfigText } from "../config/load.js";
import { MemoryHistoryStore } from "../history/index.js";
import { nextElapse, parseNextElapse } from "./calendar.js";
import { Scheduler } from "./scheduler.js";
import { DEFAULT_SERVER } from "./schema.js";

const config = (schedule: string): ReturnType<typeof parseConfigText> =>
  parseConfigText(`
[repositories.r]
engine = "restic"
url = "/srv/restic"
password_file = "/etc/r.pass"
[plans.p]
sources = ["/src"]
repositories = ["r"]
schedule = "${schedule}"
`);

describe("nextElapse (systemd-analyze calendar)", () => {
  it("gives the next elapse strictly after the base time, in UTC", async () => {
    const base = new Date("2025-03-10T12:00:00Z");
    expect(await nextElapse("*-*-* 03:00:00 UTC", base)).toEqual(new Date("2025-03-11T03:00:00Z"));
    expect(await nextElapse("hourly", new Date("2025-03-10T12:00:00Z"))).toEqual(
      new Date("2025-03-10T13:00:00Z"),
    );
    expect(await nextElapse("2021-01-01 00:00:00 UTC", base)).toBeUndefined();
    await expect(nextElapse("every tuesday-ish", base)).rejects.toThrow(
      /"every tuesday-ish" is not a systemd calendar expression/,
    );
  });

  it("reads the UTC line when local time is not UTC", () => {
    const out = [
      "  Original form: *-*-* 12:00",
      "Normalized form: *-*-* 12:00:00",
      "    Next elapse: Sat 2026-11-28 12:00:00 CET",
      "       (in UTC): Sat 2026-11-28 11:00:00 UTC",
      "       From now: 18h left",
    ].join("\n");
    expect(parseNextElapse(out)).toEqual(new Date("2026-11-28T11:00:00Z"));
    expect(parseNextElapse("    Next elapse: never\n")).toBeUndefined();
  });
});

describe("Scheduler", () => {
  let dir: string;
  let history: MemoryHistoryStore;
  const logs: string[] = [];
  const log = {
    info: (m: string) => logs.push(m),
    warn: (m: string) => logs.push(`warning: ${m}`),
  };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "snapback-sched-"));
    history = new MemoryHistoryStore();
    logs.length = 0;
  });
  afterEach(async () => {
    history.close();
    await rm(dir, { recursive: true, force: true });
  });
  const now = new Date("2025-03-10T12:00:00Z");
  const lastRunAt = (iso: string): void => {
    history.startRun({
      runId: "old",
      plan: "p",
      repositories: ["r"],
      startedAt: new Date(iso),
      pid: 1,
      pidStartTime: "x",
    });
  };

  it("schedules the next elapse from now when the plan never ran (no catch-up)", async () => {
    const s = await Scheduler.create({
      config: config("*-*-* 03:00:00 UTC"),
      server: DEFAULT_SERVER,
      history,
      runs: { isPlanBusy: () => false, start: () => undefined },
      log,
      unitDirs: [dir],
      now: () => now,
    });
    expect(s.nextRun("p")).toEqual(new Date("2025-03-11T03:00:00Z"));
  });

  it("Persistent=true: an elapse missed since the last run is due now; one not yet passed waits", async () => {
    lastRunAt("2025-03-09T02:00:00Z");
    const missed = await Scheduler.create({
      config: config("*-*-* 03:00:00 UTC"),
      server: DEFAULT_SERVER,
      history,
      runs: { isPlanBusy: () => false, start: () => undefined },
      log,
      unitDirs: [dir],
      now: () => now,
    });
    expect(missed.nextRun("p")).toEqual(now);
    expect(logs).toEqual([
      'scheduler: plan "p" missed its run at 2025-03-09T03:00:00.000Z: running it now',
    ]);
    const upToDate = await Scheduler.create({
      config: config("*-*-* 03:00:00 UTC"),
      server: DEFAULT_SERVER,
      history,
      runs: { isPlanBusy: () => false, start: () => undefined },
      log,
      unitDirs: [dir],
      now: () => new Date("2025-03-09T02:30:00Z"),
    });
    expect(upToDate.nextRun("p")).toEqual(new Date("2025-03-09T03:00:00Z"));
  });

  it("leaves a plan with an installed systemd timer to the timer, naming it", async () => {
    await writeFile(join(dir, "snapback-p.timer"), "[Timer]\n");
    const s = await Scheduler.create({
      config: config("daily"),
      server: DEFAULT_SERVER,
      history,
      runs: { isPlanBusy: () => false, start: () => undefined },
      log,
      unitDirs: [dir],
    });
    expect(s.nextRun("p")).toBeUndefined();
    expect(s.conflicts).toEqual([{ plan: "p", timer: join(dir, "snapback-p.timer") }]);
    expect(logs[0]).toMatch(
      new RegExp(
        `plan "p" is also scheduled by the systemd timer ${join(dir, "snapback-p.timer")}`,
      ),
    );
  });

  it("randomized_delay: the run starts after random × the delay, not before", async () => {
    lastRunAt("2020-01-01T00:00:00Z");
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const started: string[] = [];
      const s = await Scheduler.create({
        config: config("2021-01-01 00:00:00 UTC"),
        server: { ...DEFAULT_SERVER, randomized_delay: "10s" },
        history,
        runs: { isPlanBusy: () => false, start: (plan) => void started.push(plan) },
        log,
        unitDirs: [dir],
        random: () => 0.25,
      });
      s.start();
      // The missed run is due at once; its delay is 0.25 × 10 s.
      await vi.advanceTimersByTimeAsync(2_499);
      expect(started).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(started).toEqual(["p"]);
      s.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it("skips a plan that is still running at its time, with a warning, and starts it otherwise", async () => {
    lastRunAt("2020-01-01T00:00:00Z");
    for (const busy of [true, false]) {
      logs.length = 0;
      let told!: () => void;
      const decided = new Promise<void>((r) => (told = r));
      const started: string[] = [];
      const s = await Scheduler.create({
        config: config("2021-01-01 00:00:00 UTC"),
        server: DEFAULT_SERVER,
        history,
        runs: {
          isPlanBusy: () => busy,
          start: (plan) => {
            started.push(plan);
          },
        },
        log: {
          info: (m) => {
            logs.push(m);
            if (m.includes("started plan")) told();
          },
          warn: (m) => {
            logs.push(`warning: ${m}`);
            told();
          },
        },
        unitDirs: [dir],
      });
      s.start();
      await decided;
      s.stop();
      expect(started).toEqual(busy ? [] : ["p"]);
      expect(logs.at(-1)).toBe(
        busy
          ? 'warning: scheduler: plan "p" is still running: skipping this run'
          : 'scheduler: started plan "p"',
      );
      // A one-shot in the past: nothing is left to schedule.
      expect(s.nextRun("p")).toBeUndefined();
    }
  });
});
