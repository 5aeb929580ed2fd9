import { describe, expect, test } from "vitest";
import { dayStrip, elapsesBetween, isOverdue, parseElapses } from "./dashboard.js";

const NOW = new Date("2026-11-27T12:00:00Z");
const HOUR = 3_600_000;

describe("dashboard: day strip and overdue", () => {
  test("systemd's elapses of a daily schedule over 30 days", async () => {
    const from = new Date(NOW.getTime() - 30 * 24 * HOUR);
    const elapses = await elapsesBetween("*-*-* 02:00:00", from, NOW);
    expect(elapses).toHaveLength(30);
    expect(elapses[0]?.toISOString()).toBe("2026-10-29T02:00:00.000Z");
    expect(elapses.at(-1)?.toISOString()).toBe("2026-11-27T02:00:00.000Z");
  });

  test("worst outcome per day; a scheduled day without a run is missed; today's pending elapse is not", () => {
    const elapses = ["2026-11-25T02:00:00Z", "2026-11-26T02:00:00Z", "2026-11-27T02:00:00Z"].map(
      (s) => new Date(s),
    );
    const runs = [
      { startedAt: "2026-11-25T02:00:07Z", status: "success" },
      { startedAt: "2026-11-25T14:00:00Z", status: "failed" },
      { startedAt: "2026-11-27T02:01:00Z", status: "success" },
    ];
    const strip = dayStrip(runs, elapses, 4, NOW, 2 * HOUR);
    expect(strip).toEqual([
      { date: "2026-11-24", status: null },
      { date: "2026-11-25", status: "failed" },
      { date: "2026-11-26", status: "missed" },
      { date: "2026-11-27", status: "success" },
    ]);
    expect(isOverdue(runs, elapses, NOW, 2 * HOUR)).toBe(false);
    expect(isOverdue(runs.slice(0, 2), elapses, NOW, 2 * HOUR)).toBe(true);
    // Within the grace period nothing is judged yet.
    expect(isOverdue([], elapses, new Date("2026-11-25T03:00:00Z"), 2 * HOUR)).toBe(false);
  });

  test("parses systemd-analyze's lines", () => {
    expect(
      parseElapses(
        "  Original form: daily\n    Next elapse: Wed 2023-11-15 00:00:00 UTC\n       Iter. #2: Thu 2023-11-16 00:00:00 UTC\n",
      ).map((d) => d.toISOString()),
    ).toEqual(["2023-11-15T00:00:00.000Z", "2023-11-16T00:00:00.000Z"]);
  });
});
