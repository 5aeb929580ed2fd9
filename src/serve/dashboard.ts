import { run } from "../exec/index.js";

/**
 * What the dashboard shows beyond the run list: a 30-day strip of daily outcomes with the days a
 * scheduled run was missed, and whether a plan is overdue. The schedule's elapses come from
 * systemd itself (the same calculator as the timers and the daemon's scheduler).
 */
export type DayStatus = "success" | "partial" | "failed" | "interrupted" | "running" | "missed";

export interface DayOutcome {
  /** YYYY-MM-DD (UTC). */
  date: string;
  status: DayStatus | null;
}

export interface RunMark {
  startedAt: string;
  status: string;
}

const WORST: readonly string[] = ["failed", "interrupted", "partial", "running", "success"];

function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/**
 * Days oldest first, `days` of them ending today: each the worst outcome of its runs, "missed"
 * when the schedule elapsed that day and no run started within `graceMs` after it, or null.
 */
export function dayStrip(
  runs: readonly RunMark[],
  elapses: readonly Date[],
  days: number,
  now: Date,
  graceMs: number,
): DayOutcome[] {
  const byDay = new Map<string, string[]>();
  for (const r of runs) {
    const d = r.startedAt.slice(0, 10);
    byDay.set(d, [...(byDay.get(d) ?? []), r.status]);
  }
  const missed = new Set(
    elapses.filter((e) => missedElapse(e, runs, now, graceMs)).map((e) => day(e)),
  );
  const out: DayOutcome[] = [];
  for (let i = days - 1; i >= 0; i--) {
    const date = day(new Date(now.getTime() - i * 86_400_000));
    const statuses = byDay.get(date) ?? [];
    const worst = WORST.find((s) => statuses.includes(s)) as DayStatus | undefined;
    out.push({ date, status: worst ?? (missed.has(date) ? "missed" : null) });
  }
  return out;
}

/** An elapse (old enough to judge) after which no run started before the next chance. */
function missedElapse(e: Date, runs: readonly RunMark[], now: Date, graceMs: number): boolean {
  if (e.getTime() + graceMs > now.getTime()) return false;
  const from = e.getTime() - 60_000;
  const until = e.getTime() + graceMs;
  return !runs.some((r) => {
    const t = Date.parse(r.startedAt);
    return t >= from && t <= until;
  });
}

/** Overdue: the newest elapse that is old enough to judge was missed. */
export function isOverdue(
  runs: readonly RunMark[],
  elapses: readonly Date[],
  now: Date,
  graceMs: number,
): boolean {
  const judged = elapses.filter((e) => e.getTime() + graceMs <= now.getTime());
  const last = judged.at(-1);
  return last !== undefined && missedElapse(last, runs, now, graceMs);
}

/**
 * Every elapse of a systemd calendar expression in [from, to), by `systemd-analyze calendar
 * --iterations`, in UTC whatever the machine's zone. Cached per expression and hour: the
 * dashboard asks on every load, systemd's answer changes only with time.
 */
const cache = new Map<string, Promise<Date[]>>();

export function elapsesBetween(expression: string, from: Date, to: Date): Promise<Date[]> {
  const key = `${expression}\0${from.toISOString().slice(0, 13)}`;
  let hit = cache.get(key);
  if (!hit) {
    if (cache.size > 256) cache.clear();
    hit = computeElapses(expression, from, to);
    cache.set(key, hit);
    hit.catch(() => cache.delete(key));
  }
  return hit;
}

async function computeElapses(expression: string, from: Date, to: Date): Promise<Date[]> {
  const r = await run(
    "systemd-analyze",
    [
      "calendar",
      "--iterations=800",
      `--base-time=@${Math.floor(from.getTime() / 1000)}`,
      "--",
      expression,
    ],
    { reject: false, env: { TZ: "UTC" } },
  );
  if (r.exitCode !== 0) return [];
  return parseElapses(r.stdout).filter((d) => d.getTime() < to.getTime());
}

/** "Next elapse: Wed 2023-11-15 00:00:00 UTC" and "Iter. #2: …" lines of systemd-analyze. */
export function parseElapses(stdout: string): Date[] {
  const out: Date[] = [];
  for (const line of stdout.split("\n")) {
    const m =
      /^\s*(?:Next elapse|Iter\. #\d+):\s+\w+ (\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) UTC/.exec(
        line,
      );
    if (m) out.push(new Date(`${m[1]}T${m[2]}Z`));
  }
  return out;
}
