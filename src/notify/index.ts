import { log, redact } from "../log.js";
import { scrub, send, type HttpRequest } from "./http.js";
import { driverFor, type ChannelDriver } from "./registry.js";
import type { NotifyChannel, NotifyEvent } from "../config/notify.js";
import {
  finishEventOf,
  type NotifyFailure,
  type NotifyOptions,
  type RunReport,
  type StartContext,
} from "./types.js";

export * from "../config/notify.js";
export type { NotifyFailure, NotifyOptions, RunReport, StartContext } from "./types.js";

/**
 * Tells the channels that a run started (Healthchecks /start, and whoever has "start" in
 * `on`). Never throws: failures are logged as warnings (type and host only) and returned.
 */
export function notifyStart(
  channels: readonly NotifyChannel[],
  ctx: StartContext,
  options: NotifyOptions = {},
): Promise<NotifyFailure[]> {
  return dispatch(channels, "start", options, (driver, channel) => driver.start(channel, ctx));
}

/**
 * Tells the channels how a run ended. success → "success", partial → "partial", failed and
 * interrupted → "failure"; a channel hears only the events in its `on`. Never throws.
 */
export function notifyFinish(
  channels: readonly NotifyChannel[],
  report: RunReport,
  options: NotifyOptions = {},
): Promise<NotifyFailure[]> {
  const event = finishEventOf(report.result.status);
  return dispatch(channels, event, options, (driver, channel) =>
    driver.finish(channel, report, event),
  );
}

type Build = (
  driver: ChannelDriver<NotifyChannel>,
  channel: NotifyChannel,
) => Promise<HttpRequest | undefined>;

async function dispatch(
  channels: readonly NotifyChannel[],
  event: NotifyEvent,
  options: NotifyOptions,
  build: Build,
): Promise<NotifyFailure[]> {
  // In parallel: a receiver that hangs must not hold up the others.
  const outcomes = await Promise.all(channels.map((c) => deliver(c, event, options, build)));
  return outcomes.filter((o): o is NotifyFailure => o !== undefined);
}

async function deliver(
  channel: NotifyChannel,
  event: NotifyEvent,
  options: NotifyOptions,
  build: Build,
): Promise<NotifyFailure | undefined> {
  const host = hostOf(channel.url);
  const what = `notify: ${channel.type} (${host})`;
  let failure: NotifyFailure;
  try {
    if (!(channel.on as readonly NotifyEvent[]).includes(event)) return undefined;
    const request = await build(driverFor(channel), channel);
    if (request === undefined) return undefined;
    // Belt and braces: a secret that slipped into a log line must not leave the machine.
    if (request.body !== undefined) request.body = redact(request.body);
    const sent = await send(request, {
      timeoutS: channel.timeout,
      retries: channel.retries,
      backoffMs: options.backoffMs ?? 1000,
    });
    if (sent.ok) {
      log.verbose(`${what}: ${event} delivered (HTTP ${sent.status})`);
      return undefined;
    }
    failure = { type: channel.type, host, event, reason: sent.reason, attempts: sent.attempts };
  } catch (e) {
    // Building the request failed (e.g. an unreadable token_file): nothing was sent.
    const reason = scrub(e instanceof Error ? e.message : String(e), channelSecrets(channel));
    failure = { type: channel.type, host, event, reason, attempts: 0 };
  }
  const tries = failure.attempts > 1 ? ` after ${failure.attempts} attempts` : "";
  log.warn(`${what}: could not send the ${event} notification${tries}: ${failure.reason}`);
  return failure;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "invalid URL";
  }
}

function channelSecrets(channel: NotifyChannel): string[] {
  const out = [channel.url];
  try {
    const u = new URL(channel.url);
    out.push(u.pathname, u.search);
  } catch {
    // Not a URL: the whole string is already listed.
  }
  if (channel.type === "ntfy") out.push(channel.topic);
  if (channel.type === "webhook") out.push(...Object.values(channel.headers ?? {}));
  return out;
}
