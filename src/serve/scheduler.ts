import { access } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "../config/schema.js";
import { errorMessage } from "../errors.js";
import type { HistoryStore } from "../history/index.js";
import { parseDuration } from "../config/duration.js";
import { nextElapse } from "./calendar.js";
import type { ServerConfig } from "./schema.js";

interface Starter {
  isPlanBusy(plan: string): boolean;
  start(plan: string, opts: { by: string }): unknown;
}

interface Logger {
  info(m: string): void;
  warn(m: string): void;
}

/** Longest setTimeout node allows (~24.8 days); a later elapse is re-armed when this fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Runs plans at their `schedule` (systemd OnCalendar) with `Persistent=true` semantics: the
 * elapse after a plan's last recorded run is computed at start, and if it has passed while
 * the daemon was down the plan runs once right away. Optional randomized delay
 * ([server] randomized_delay). A plan still running at its time is skipped with a warning,
 * never started twice. A plan that also has an installed systemd timer is left to the timer
 * (and named in a warning): two schedulers would run it twice.
 */
export class Scheduler {
  private readonly next = new Map<string, Date>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  readonly conflicts: { plan: string; timer: string }[] = [];

  private constructor(
    private readonly opts: {
      config: Config;
      server: ServerConfig;
      history: HistoryStore;
      runs: Starter;
      log: Logger;
      now?: () => Date;
      random?: () => number;
    },
  ) {}

  static async create(opts: {
    config: Config;
    server: ServerConfig;
    history: HistoryStore;
    runs: Starter;
    log: Logger;
    /** Where `schedule install` puts timers. */
    unitDirs?: string[];
    now?: () => Date;
    random?: () => number;
  }): Promise<Scheduler> {
    const s = new Scheduler(opts);
    const dirs = opts.unitDirs ?? [
      "/etc/systemd/system",
      "/run/systemd/system",
      "/usr/lib/systemd/system",
    ];
    for (const [plan, p] of Object.entries(opts.config.plans)) {
      if (p.schedule === undefined) continue;
      const timer = await installedTimer(dirs, plan);
      if (timer !== undefined) {
        s.conflicts.push({ plan, timer });
        opts.log.warn(
          `scheduler: plan "${plan}" is also scheduled by the systemd timer ${timer}; leaving it to the timer (disable it with: systemctl disable --now snapback-${plan}.timer)`,
        );
        continue;
      }
      const last = opts.history.recent(plan, 1)[0];
      const now = s.now();
      // Persistent=true: an elapse after the last run that has passed is made up once, now.
      if (last) {
        const due = await nextElapse(p.schedule, new Date(last.startedAt));
        if (due !== undefined && due <= now) {
          opts.log.info(
            `scheduler: plan "${plan}" missed its run at ${due.toISOString()}: running it now`,
          );
          s.next.set(plan, now);
          continue;
        }
      }
      const upcoming = await nextElapse(p.schedule, now);
      if (upcoming) s.next.set(plan, upcoming);
    }
    return s;
  }

  /** When the plan runs next (undefined: not scheduled here). */
  nextRun(plan: string): Date | undefined {
    return this.next.get(plan);
  }

  start(): void {
    this.stopped = false;
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private now(): Date {
    return (this.opts.now ?? (() => new Date()))();
  }

  /** One timer for the earliest plan: nothing runs between elapses. */
  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopped) return;
    const earliest = [...this.next.values()].reduce<number | undefined>(
      (min, d) => (min === undefined || d.getTime() < min ? d.getTime() : min),
      undefined,
    );
    if (earliest === undefined) return;
    const wait = Math.min(Math.max(0, earliest - this.now().getTime()), MAX_TIMER_MS);
    this.timer = setTimeout(() => void this.fire(), wait);
  }

  private async fire(): Promise<void> {
    this.timer = undefined;
    const now = this.now();
    for (const [plan, due] of [...this.next]) {
      if (due.getTime() > now.getTime()) continue;
      this.next.delete(plan);
      void this.runLater(plan);
      const schedule = this.opts.config.plans[plan]?.schedule;
      try {
        // After now, not after `due`: elapses missed while a run was late are not stacked up.
        const upcoming = schedule === undefined ? undefined : await nextElapse(schedule, now);
        if (upcoming) this.next.set(plan, upcoming);
      } catch (e) {
        this.opts.log.warn(`scheduler: plan "${plan}": ${errorMessage(e)}`);
      }
    }
    this.arm();
  }

  /** The randomized delay, then the run, unless the plan is still running. */
  private async runLater(plan: string): Promise<void> {
    const delay = this.opts.server.randomized_delay;
    if (delay !== undefined) {
      const ms = Math.floor((this.opts.random ?? Math.random)() * (parseDuration(delay) ?? 0));
      await new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
      if (this.stopped) return;
    }
    if (this.opts.runs.isPlanBusy(plan)) {
      this.opts.log.warn(`scheduler: plan "${plan}" is still running: skipping this run`);
      return;
    }
    try {
      this.opts.runs.start(plan, { by: "scheduler" });
      this.opts.log.info(`scheduler: started plan "${plan}"`);
    } catch (e) {
      this.opts.log.warn(`scheduler: plan "${plan}" did not start: ${errorMessage(e)}`);
    }
  }
}

async function installedTimer(dirs: readonly string[], plan: string): Promise<string | undefined> {
  for (const dir of dirs) {
    const path = join(dir, `snapback-${plan}.timer`);
    try {
      await access(path);
      return path;
    } catch {
      // Not there.
    }
  }
  return undefined;
}
