import { createHash } from "node:crypto";
import { registerSecret } from "../log.js";
import type { HttpRequest } from "./http.js";
import { keepTail, startText, summaryText } from "./message.js";
import type { ChannelDriver } from "./registry.js";
import type { HealthchecksChannel } from "../config/notify.js";
import type { FinishEvent } from "./types.js";

/**
 * Healthchecks pinging API: POST <url>/start when the run starts, POST <url> on success,
 * <url>/fail on failure (and interruption), <url>/3 on a partial run (the exit status
 * snapback ends with; Healthchecks counts any non-zero status as a failure but shows it).
 * Every ping carries ?rid=<uuid derived from the run id>, so Healthchecks pairs start and
 * finish of the same run and measures its duration.
 */

/** Healthchecks stores at most 100 kB of a ping's body. */
export const HEALTHCHECKS_BODY_LIMIT = 100_000;

const SUFFIX: Record<FinishEvent, string> = { success: "", failure: "/fail", partial: "/3" };

export const healthchecks: ChannelDriver<HealthchecksChannel> = {
  start(channel, ctx) {
    return Promise.resolve(ping(channel, "/start", ctx.run_id, startText(ctx)));
  },
  finish(channel, report, event) {
    const summary = summaryText(report);
    const room = HEALTHCHECKS_BODY_LIMIT - Buffer.byteLength(summary) - 2;
    const log = report.logTail.length > 0 ? keepTail(report.logTail.join("\n"), room) : "";
    const body = log ? `${log}\n\n${summary}` : summary;
    return Promise.resolve(ping(channel, SUFFIX[event], report.result.run_id, body));
  },
};

function ping(
  channel: HealthchecksChannel,
  suffix: string,
  runId: string,
  body: string,
): HttpRequest {
  const url = new URL(channel.url);
  // The path holds the check's UUID or ping key: a secret like a password.
  registerSecret(url.pathname.length > 1 ? url.pathname : undefined);
  url.pathname = url.pathname.replace(/\/+$/, "") + suffix;
  url.searchParams.set("rid", runUuid(runId));
  return {
    method: "POST",
    url,
    headers: { "Content-Type": "text/plain; charset=utf-8" },
    body,
    secrets: [channel.url, new URL(channel.url).pathname, url.href],
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Healthchecks wants a UUID as run id; snapback's run ids are timestamps. A name-based
 * (version 5 style) UUID of the run id is stable, so start and finish agree without state.
 */
export function runUuid(runId: string): string {
  if (UUID.test(runId)) return runId.toLowerCase();
  const b = createHash("sha1").update(`snapback-run:${runId}`).digest().subarray(0, 16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x50;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const hex = b.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
