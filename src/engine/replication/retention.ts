import type { Plan } from "../../config/schema.js";
import type { KeepRules } from "../types.js";

/**
 * restic's `forget` policy, applied by snapback itself to the snapshots on a replication
 * target (and to the replication parents on the source): keep_last the newest n; keep_hourly,
 * daily, … the newest snapshot of each of the last n hours, days, … that have one; keep_within
 * everything younger than the duration, counted back from the newest. Calendar buckets use
 * local time, as restic's do. Without any rule everything is kept.
 */
export interface Dated {
  id: string;
  time: Date;
  /** Creation order among items of the same time (run ids have one-second precision). */
  order?: number;
}

export interface RetentionChoice<T extends Dated> {
  keep: { item: T; reasons: string[] }[];
  remove: T[];
}

/** The plan's keep_* rules as the engine interface spells them. */
export function planRules(plan: Pick<Plan, "retention">): KeepRules {
  return rulesFrom(plan.retention ?? {});
}

/** The `keep_*` keys of a plan's retention table or a replication repository. */
export interface KeepKeys {
  keep_last?: number | undefined;
  keep_hourly?: number | undefined;
  keep_daily?: number | undefined;
  keep_weekly?: number | undefined;
  keep_monthly?: number | undefined;
  keep_yearly?: number | undefined;
  keep_within?: string | undefined;
}

/** Rules from `keep_*` keys (a plan's retention table or a replication repository's own keys). */
export function rulesFrom(r: KeepKeys): KeepRules {
  return {
    ...(r.keep_last ? { last: r.keep_last } : {}),
    ...(r.keep_hourly ? { hourly: r.keep_hourly } : {}),
    ...(r.keep_daily ? { daily: r.keep_daily } : {}),
    ...(r.keep_weekly ? { weekly: r.keep_weekly } : {}),
    ...(r.keep_monthly ? { monthly: r.keep_monthly } : {}),
    ...(r.keep_yearly ? { yearly: r.keep_yearly } : {}),
    ...(r.keep_within ? { within: r.keep_within } : {}),
  };
}

export function hasRules(rules: KeepRules): boolean {
  return Object.values(rules).some((v) => (typeof v === "number" ? v > 0 : Boolean(v)));
}

const pad = (n: number, w = 2): string => String(n).padStart(w, "0");

function isoWeek(d: Date): string {
  // ISO 8601: the week with the year's first Thursday is week 1.
  const t = new Date(d.getFullYear(), d.getMonth(), d.getDate());
  const day = (t.getDay() + 6) % 7;
  t.setDate(t.getDate() - day + 3);
  const firstThursday = new Date(t.getFullYear(), 0, 4);
  const week =
    1 +
    Math.round(
      ((t.getTime() - firstThursday.getTime()) / 86_400_000 -
        3 +
        ((firstThursday.getDay() + 6) % 7)) /
        7,
    );
  return `${t.getFullYear()}-${pad(week)}`;
}

const BUCKETS: { rule: keyof KeepRules; reason: string; key: (d: Date) => string }[] = [
  {
    rule: "hourly",
    reason: "hourly snapshot",
    key: (d) =>
      `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}`,
  },
  {
    rule: "daily",
    reason: "daily snapshot",
    key: (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`,
  },
  { rule: "weekly", reason: "weekly snapshot", key: isoWeek },
  {
    rule: "monthly",
    reason: "monthly snapshot",
    key: (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}`,
  },
  { rule: "yearly", reason: "yearly snapshot", key: (d) => `${d.getFullYear()}` },
];

/** restic's duration: y, m (months; M too), w, d, h. */
export function subtractDuration(from: Date, duration: string): Date {
  const d = new Date(from.getTime());
  for (const [, n, unit] of duration.matchAll(/(\d+)([yMmwdh])/g)) {
    const k = Number(n);
    if (unit === "y") d.setFullYear(d.getFullYear() - k);
    else if (unit === "m" || unit === "M") d.setMonth(d.getMonth() - k);
    else if (unit === "w") d.setDate(d.getDate() - 7 * k);
    else if (unit === "d") d.setDate(d.getDate() - k);
    else if (unit === "h") d.setHours(d.getHours() - k);
  }
  return d;
}

/**
 * Which items stay. `protect` names items kept whatever the rules say (the snapshot both sides
 * share, which the next incremental send needs as its parent).
 */
export function selectRetention<T extends Dated>(
  items: readonly T[],
  rules: KeepRules,
  protect: ReadonlySet<string> = new Set(),
): RetentionChoice<T> {
  const newestFirst = [...items].sort(
    (a, b) =>
      b.time.getTime() - a.time.getTime() ||
      (b.order ?? 0) - (a.order ?? 0) ||
      b.id.localeCompare(a.id),
  );
  const reasons = new Map<string, string[]>(newestFirst.map((i) => [i.id, []]));
  const add = (item: T, reason: string): void => {
    reasons.get(item.id)?.push(reason);
  };
  if (!hasRules(rules)) {
    for (const i of newestFirst) add(i, "no keep rule");
  } else {
    newestFirst.slice(0, rules.last ?? 0).forEach((i) => add(i, "last snapshot"));
    for (const b of BUCKETS) {
      let left = (rules[b.rule] as number | undefined) ?? 0;
      let lastKey: string | undefined;
      for (const i of newestFirst) {
        if (left <= 0) break;
        const key = b.key(i.time);
        if (key === lastKey) continue;
        lastKey = key;
        add(i, b.reason);
        left--;
      }
    }
    const newest = newestFirst[0];
    if (rules.within && newest) {
      const since = subtractDuration(newest.time, rules.within).getTime();
      for (const i of newestFirst) if (i.time.getTime() >= since) add(i, `within ${rules.within}`);
    }
  }
  for (const i of newestFirst) if (protect.has(i.id)) add(i, "parent of the next incremental send");

  const keep: RetentionChoice<T>["keep"] = [];
  const remove: T[] = [];
  for (const i of newestFirst) {
    const r = reasons.get(i.id) ?? [];
    if (r.length > 0) keep.push({ item: i, reasons: r });
    else remove.push(i);
  }
  return { keep, remove };
}
