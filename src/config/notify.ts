import { isAbsolute } from "node:path";
import * as z from "../util/zod.js";

/**
 * Notification channels: `[[notify]]` (top level, the default for every plan) and
 * `[[plans.X.notify]]` (replaces the default for that plan; `notify = []` turns it off).
 *
 * Default `on` per type, chosen by what the receiver is for:
 * - healthchecks: start, success, failure, partial: it is a dead man's switch that alerts
 *   when success pings stop, and the start ping lets it measure run time and catch hangs.
 * - uptime-kuma: success, failure, partial: a push monitor goes down when heartbeats stop, so
 *   it needs every outcome. It has no notion of a start ("start" is refused).
 * - ntfy, webhook: failure, partial: they reach people, who want to hear about problems.
 *
 * Error messages never echo a URL or header value: the URLs of Healthchecks and Uptime Kuma
 * carry the check's token.
 */

export const NOTIFY_EVENTS = ["start", "success", "failure", "partial"] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

const absolutePath = z
  .string()
  .min(1, "must not be empty")
  .refine((p) => isAbsolute(p), { message: "must be an absolute path" });

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
  } catch {
    return false;
  }
}

const httpUrl = z.string().refine(isHttpUrl, { message: "must be an http:// or https:// URL" });

const events = <const T extends readonly [NotifyEvent, ...NotifyEvent[]]>(
  allowed: T,
  defaults: NoInfer<T[number]>[],
) => z.array(z.enum(allowed)).default(defaults);

const common = {
  /** Seconds one attempt may take (connect, send, response headers). */
  timeout: z.number().positive("must be more than 0 seconds").max(300).default(10),
  /** Further attempts after a failed one (network error, timeout, HTTP 429 or 5xx). */
  retries: z.int().min(0).max(10).default(2),
};

export const healthchecksChannelSchema = z.strictObject({
  type: z.literal("healthchecks"),
  /** The check's ping URL: https://hc-ping.com/<uuid>, <base>/<ping-key>/<slug>, self-hosted. */
  url: httpUrl,
  on: events(NOTIFY_EVENTS, ["start", "success", "failure", "partial"]),
  ...common,
});

export const uptimeKumaChannelSchema = z.strictObject({
  type: z.literal("uptime-kuma"),
  /** The push monitor's URL: https://kuma.example/api/push/<token>. */
  url: httpUrl,
  on: events(["success", "failure", "partial"], ["success", "failure", "partial"]),
  ...common,
});

export const NTFY_PRIORITIES = { min: 1, low: 2, default: 3, high: 4, urgent: 5, max: 5 } as const;

export const ntfyChannelSchema = z.strictObject({
  type: z.literal("ntfy"),
  /** The server: https://ntfy.sh or a self-hosted one. */
  url: httpUrl,
  topic: z.string().regex(/^[-_A-Za-z0-9]{1,64}$/, "must be 1-64 letters, digits, '-' or '_'"),
  /** Fixed priority for every message; default: 4 (high) for failure/partial, 3 otherwise. */
  priority: z
    .union([
      z.int().min(1).max(5),
      z.enum(Object.keys(NTFY_PRIORITIES) as [keyof typeof NTFY_PRIORITIES]),
    ])
    .optional(),
  /** File whose first line is an access token, sent as `Authorization: Bearer`. */
  token_file: absolutePath.optional(),
  on: events(NOTIFY_EVENTS, ["failure", "partial"]),
  ...common,
});

export const webhookChannelSchema = z.strictObject({
  type: z.literal("webhook"),
  url: httpUrl,
  /** Extra request headers (e.g. Authorization); their values are treated as secrets. */
  headers: z
    .record(
      z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "must be an HTTP header name"),
      // What an HTTP header can carry: Latin-1 without control characters.
      z
        .string()
        .regex(/^[\t\x20-\x7e\x80-\xff]*$/, "must be printable Latin-1 text (no line breaks)"),
    )
    .optional(),
  on: events(NOTIFY_EVENTS, ["failure", "partial"]),
  ...common,
});

export const notifyChannelSchema = z.discriminatedUnion("type", [
  healthchecksChannelSchema,
  uptimeKumaChannelSchema,
  ntfyChannelSchema,
  webhookChannelSchema,
]);

/** Top-level `[[notify]]`: the channels of every plan that has no `notify` of its own. */
export const globalNotifySchema = z.array(notifyChannelSchema).default([]);
/** `[[plans.X.notify]]`: absent = use the global list; `notify = []` = no notifications. */
export const planNotifySchema = z.array(notifyChannelSchema).optional();

export type NotifyChannel = z.infer<typeof notifyChannelSchema>;
export type HealthchecksChannel = z.infer<typeof healthchecksChannelSchema>;
export type UptimeKumaChannel = z.infer<typeof uptimeKumaChannelSchema>;
export type NtfyChannel = z.infer<typeof ntfyChannelSchema>;
export type WebhookChannel = z.infer<typeof webhookChannelSchema>;
export type ChannelType = NotifyChannel["type"];

/** The channels a plan notifies: its own list when it has one, else the global default. */
export function channelsForPlan(
  global: readonly NotifyChannel[] | undefined,
  plan: readonly NotifyChannel[] | undefined,
): readonly NotifyChannel[] {
  return plan ?? global ?? [];
}
