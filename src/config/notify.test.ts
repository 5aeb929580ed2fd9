import { describe, expect, test } from "vitest";
import * as z from "../util/zod.js";
import {
  channelsForPlan,
  globalNotifySchema,
  notifyChannelSchema,
  planNotifySchema,
  type NotifyChannel,
} from "./notify.js";

function problems(raw: unknown): string[] {
  const r = notifyChannelSchema.safeParse(raw);
  if (r.success) return [];
  return r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

describe("notify schema", () => {
  test("defaults: on per type, timeout 10 s, 2 retries", () => {
    const on = (raw: Record<string, unknown>): unknown => notifyChannelSchema.parse(raw).on;
    expect(on({ type: "healthchecks", url: "https://hc-ping.com/x" })).toEqual([
      "start",
      "success",
      "failure",
      "partial",
    ]);
    expect(on({ type: "uptime-kuma", url: "https://kuma/api/push/x" })).toEqual([
      "success",
      "failure",
      "partial",
    ]);
    expect(on({ type: "ntfy", url: "https://ntfy.sh", topic: "t" })).toEqual([
      "failure",
      "partial",
    ]);
    expect(on({ type: "webhook", url: "https://h/x" })).toEqual(["failure", "partial"]);
    const hc = notifyChannelSchema.parse({ type: "healthchecks", url: "https://hc-ping.com/x" });
    expect([hc.timeout, hc.retries]).toEqual([10, 2]);
  });

  test("bad values are refused with messages that never echo a URL", () => {
    const secretUrl = "ftp://hc-ping.com/0f3e9b-secret";
    const msgs = problems({ type: "healthchecks", url: secretUrl });
    expect(msgs).toEqual(["url: must be an http:// or https:// URL"]);
    expect(problems({ type: "uptime-kuma", url: "not a url" })).toEqual([
      "url: must be an http:// or https:// URL",
    ]);
    expect(
      problems({ type: "uptime-kuma", url: "https://k/api/push/x", on: ["start"] }),
    ).toHaveLength(1);
    expect(problems({ type: "ntfy", url: "https://ntfy.sh", topic: "a/b" })).toEqual([
      "topic: must be 1-64 letters, digits, '-' or '_'",
    ]);
    expect(
      problems({ type: "ntfy", url: "https://ntfy.sh", topic: "t", priority: 6 }),
    ).toHaveLength(1);
    expect(
      problems({ type: "ntfy", url: "https://ntfy.sh", topic: "t", priority: "loud" }),
    ).toHaveLength(1);
    expect(
      problems({ type: "ntfy", url: "https://ntfy.sh", topic: "t", token_file: "rel/t" }),
    ).toEqual(["token_file: must be an absolute path"]);
    expect(
      problems({ type: "webhook", url: "https://h", headers: { "X-A": "a\r\nX-B: b" } }),
    ).toEqual(["headers.X-A: must be printable Latin-1 text (no line breaks)"]);
    expect(
      problems({ type: "webhook", url: "https://h", headers: { "Bad Name": "v" } }),
    ).toHaveLength(1);
    expect(problems({ type: "webhook", url: "https://h", timeout: 0 })).toEqual([
      "timeout: must be more than 0 seconds",
    ]);
    expect(problems({ type: "webhook", url: "https://h", method: "PUT" })).toHaveLength(1);
    expect(problems({ type: "email", url: "https://h" })).toHaveLength(1);
  });

  test("ntfy priority accepts 1-5 and the names ntfy knows", () => {
    for (const priority of [1, 5, "min", "low", "default", "high", "urgent", "max"]) {
      expect(problems({ type: "ntfy", url: "https://ntfy.sh", topic: "t", priority })).toEqual([]);
    }
  });

  test("a plan's own list replaces the global one; an empty list turns notifications off", () => {
    const config = z.strictObject({
      notify: globalNotifySchema,
      plans: z.record(z.string(), z.strictObject({ notify: planNotifySchema })),
    });
    const parsed = config.parse({
      notify: [{ type: "healthchecks", url: "https://hc-ping.com/global" }],
      plans: {
        a: {},
        b: { notify: [{ type: "webhook", url: "https://h/b" }] },
        c: { notify: [] },
      },
    });
    const urls = (list: readonly NotifyChannel[]): string[] => list.map((c) => c.url);
    expect(urls(channelsForPlan(parsed.notify, parsed.plans["a"]?.notify))).toEqual([
      "https://hc-ping.com/global",
    ]);
    expect(urls(channelsForPlan(parsed.notify, parsed.plans["b"]?.notify))).toEqual([
      "https://h/b",
    ]);
    expect(channelsForPlan(parsed.notify, parsed.plans["c"]?.notify)).toEqual([]);
    expect(config.parse({ plans: {} }).notify).toEqual([]);
  });
});
