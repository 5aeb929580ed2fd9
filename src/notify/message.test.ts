import { describe, expect, test } from "vitest";
import { keepTail, shortText, summaryText } from "./message.js";
import { report } from "./test-support.js";

describe("keepTail", () => {
  test("text within the limit is unchanged", () => {
    expect(keepTail("abc\ndef", 7)).toBe("abc\ndef");
  });

  test("keeps the end, marks the cut, never splits a character, stays within the limit", () => {
    const text = "€".repeat(1000); // 3 bytes each
    for (const limit of [100, 101, 102, 103, 500]) {
      const kept = keepTail(text, limit);
      expect(Buffer.byteLength(kept)).toBeLessThanOrEqual(limit);
      expect(kept).toMatch(/^\[\.\.\. \d+ bytes cut \.\.\.\]\n€+$/);
      const cut = Number(/\d+/.exec(kept)?.[0]);
      const tail = kept.slice(kept.indexOf("\n") + 1);
      expect(cut + Buffer.byteLength(tail)).toBe(3000);
    }
  });
});

describe("shortText", () => {
  test("one line, bounded", () => {
    const r = report("failed", { error: `first line\nsecond ${"x".repeat(500)}` });
    const text = shortText(r, 120);
    expect(text).not.toContain("\n");
    expect(text.length).toBe(120);
    expect(text.startsWith("failed in 1:23: first line second x")).toBe(true);
    expect(text.endsWith("...")).toBe(true);
  });
});

describe("summaryText", () => {
  test("a replication target's line says what was sent; restic's keeps its file counts", () => {
    const r = report("success");
    const [local, offsite] = r.summaries;
    if (!local || !offsite) throw new Error("the fixture has two summaries");
    const usb = {
      ...offsite,
      repository: "usb",
      snapshot_id: "20261122T024000Z-ab12",
      duration_s: 5,
      replicated: [{ source: "/home", received: "/mnt/usb/home/s", parent: null, duration_s: 2 }],
    };
    const lines = summaryText({ ...r, summaries: [local, usb] }).split("\n");
    expect(lines).toContain("usb: snapshot 20261122T024000Z-ab12, 1 snapshot sent in full, 0:05");
    expect(lines.some((l) => l.startsWith("local: snapshot ") && l.includes(" new, "))).toBe(true);
  });
});
