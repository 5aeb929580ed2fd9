import type { PlanResponse } from "./api.js";
import type { AppDeps } from "./app.js";
import { nextElapse } from "./calendar.js";
import { dayStrip, elapsesBetween, isOverdue } from "./dashboard.js";

const DAYS = 30;
const DAY_MS = 86_400_000;

/**
 * The dashboard's extra facts per plan: 30 days of outcomes (one history query for all plans),
 * missed scheduled days, overdue, bytes protected, and the next elapse of a schedule that
 * systemd timers run (the daemon's own scheduler already said it). systemd's answers are
 * cached per hour, so a dashboard load costs one query and no process in the common case.
 */
export async function withDashboard(deps: AppDeps, plans: PlanResponse[]): Promise<PlanResponse[]> {
  const now = new Date();
  const from = new Date(now.getTime() - DAYS * DAY_MS);
  const marks = deps.history.marksSince(from.toISOString());
  // A run may start up to the randomized delay late; an hour more before it counts as missed.
  const graceMs = 60 * 60_000 + randomizedDelayMs(deps.config.server?.randomized_delay);
  return Promise.all(
    plans.map(async (p) => {
      const runs = marks.filter((m) => m.plan === p.name);
      const elapses = p.schedule ? await elapsesBetween(p.schedule, from, now) : [];
      const next =
        p.next_run ?? (p.schedule ? await cachedNext(p.schedule, now) : undefined)?.toISOString();
      return {
        ...p,
        next_run: next ?? null,
        bytes_protected: bytesProtected(deps, p.name),
        days: dayStrip(runs, elapses, DAYS, now, graceMs),
        overdue: isOverdue(runs, elapses, now, graceMs),
      };
    }),
  );
}

function bytesProtected(deps: AppDeps, plan: string): number | null {
  for (const r of deps.history.page({ plan, status: "success", limit: 5 })) {
    const sizes = Object.values(r.summaries).map((s) => s.totalBytesProcessed ?? 0);
    if (sizes.length > 0) return Math.max(...sizes);
  }
  return null;
}

const nextCache = new Map<string, Promise<Date | undefined>>();

function cachedNext(expression: string, now: Date): Promise<Date | undefined> {
  const key = `${expression}\0${now.toISOString().slice(0, 16)}`;
  let hit = nextCache.get(key);
  if (!hit) {
    if (nextCache.size > 256) nextCache.clear();
    hit = nextElapse(expression, now).catch(() => undefined);
    nextCache.set(key, hit);
  }
  return hit;
}

function randomizedDelayMs(text: string | undefined): number {
  if (!text) return 0;
  let ms = 0;
  for (const m of text.matchAll(/(\d+)(ms|s|m|h)/g))
    ms += Number(m[1]) * (m[2] === "ms" ? 1 : m[2] === "s" ? 1e3 : m[2] === "m" ? 6e4 : 36e5);
  return ms;
}
