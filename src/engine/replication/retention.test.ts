import { describe, expect, it } from "vitest";
import { planRules, selectRetention, subtractDuration, type Dated } from "./retention.js";

/** One snapshot per entry, at local times (restic's buckets use local time). */
function at(...times: [number, number, number, number?][]): Dated[] {
  return times.map(([y, m, d, h = 12], i) => ({ id: `s${i}`, time: new Date(y, m - 1, d, h) }));
}
const ids = (xs: readonly { id: string }[]): string[] => xs.map((x) => x.id).sort();

describe("retention on a replication target (restic's rules)", () => {
  const daily = at(
    [2026, 11, 1],
    [2026, 11, 2],
    [2026, 11, 3],
    [2026, 11, 3, 18],
    [2026, 11, 4],
    [2026, 11, 5],
  );

  it("keeps the newest n with keep_last", () => {
    const c = selectRetention(daily, { last: 2 });
    expect(ids(c.keep.map((k) => k.item))).toEqual(["s4", "s5"]);
    expect(ids(c.remove)).toEqual(["s0", "s1", "s2", "s3"]);
    expect(c.keep[0]?.reasons).toEqual(["last snapshot"]);
  });

  it("keeps the newest of each of the last n days, weeks, months, years", () => {
    // Two on Nov 3: only the later one counts for that day.
    expect(ids(selectRetention(daily, { daily: 3 }).keep.map((k) => k.item))).toEqual([
      "s3",
      "s4",
      "s5",
    ]);
    const spread = at([2025, 12, 31], [2026, 1, 15], [2026, 2, 1], [2026, 2, 20], [2026, 3, 5]);
    expect(ids(selectRetention(spread, { monthly: 2 }).keep.map((k) => k.item))).toEqual([
      "s3",
      "s4",
    ]);
    expect(ids(selectRetention(spread, { yearly: 5 }).keep.map((k) => k.item))).toEqual([
      "s0",
      "s4",
    ]);
    // ISO weeks: Mon 2026-11-02 .. Sun 2026-11-08 is one week.
    const weeks = at([2026, 11, 1], [2026, 11, 2], [2026, 11, 8], [2026, 11, 9]);
    expect(ids(selectRetention(weeks, { weekly: 2 }).keep.map((k) => k.item))).toEqual([
      "s2",
      "s3",
    ]);
    const hours = at([2026, 11, 1, 1], [2026, 11, 1, 1], [2026, 11, 1, 2]);
    expect(selectRetention(hours, { hourly: 5 }).keep).toHaveLength(2);
  });

  it("combines rules and says why each is kept", () => {
    const c = selectRetention(daily, { last: 1, daily: 2 });
    const s5 = c.keep.find((k) => k.item.id === "s5");
    expect(s5?.reasons).toEqual(["last snapshot", "daily snapshot"]);
    expect(ids(c.keep.map((k) => k.item))).toEqual(["s4", "s5"]);
  });

  it("keeps everything within a duration of the newest", () => {
    expect(ids(selectRetention(daily, { within: "2d" }).keep.map((k) => k.item))).toEqual([
      "s2",
      "s3",
      "s4",
      "s5",
    ]);
    expect(subtractDuration(new Date(2026, 10, 22), "1y2m3w1d").getTime()).toBe(
      new Date(2025, 8, 0).getTime(),
    );
  });

  it("never removes a protected snapshot (the next parent), and keeps all without rules", () => {
    const c = selectRetention(daily, { last: 1 }, new Set(["s1"]));
    expect(ids(c.keep.map((k) => k.item))).toEqual(["s1", "s5"]);
    expect(c.keep.find((k) => k.item.id === "s1")?.reasons).toEqual([
      "parent of the next incremental send",
    ]);
    expect(selectRetention(daily, {}).remove).toEqual([]);
  });

  it("reads the plan's keep_* keys", () => {
    expect(
      planRules({
        retention: {
          keep_last: 3,
          keep_daily: 7,
          keep_within: "30d",
          local_snapshots: 2,
          prune: true,
        },
      }),
    ).toEqual({
      last: 3,
      daily: 7,
      within: "30d",
    });
    expect(planRules({})).toEqual({});
  });
});
