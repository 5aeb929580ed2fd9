import { healthchecks } from "./healthchecks.js";
import type { HttpRequest } from "./http.js";
import { ntfy } from "./ntfy.js";
import type { ChannelType, NotifyChannel } from "../config/notify.js";
import type { FinishEvent, RunReport, StartContext } from "./types.js";
import { uptimeKuma } from "./uptime-kuma.js";
import { webhook } from "./webhook.js";

/**
 * One driver per channel type: it turns an event into the receiver's request. Sending,
 * timeouts, retries and logging are shared (index.ts, http.ts).
 */
export interface ChannelDriver<C extends NotifyChannel> {
  /** undefined: the receiver has nothing to do with a start. */
  start(channel: C, ctx: StartContext): Promise<HttpRequest | undefined>;
  finish(channel: C, report: RunReport, event: FinishEvent): Promise<HttpRequest>;
}

type Drivers = { [T in ChannelType]: ChannelDriver<Extract<NotifyChannel, { type: T }>> };

const drivers: Drivers = {
  healthchecks,
  "uptime-kuma": uptimeKuma,
  ntfy,
  webhook,
};

export function driverFor<C extends NotifyChannel>(channel: C): ChannelDriver<C> {
  // The mapped type guarantees drivers[channel.type] takes channels of that type.
  return drivers[channel.type] as unknown as ChannelDriver<C>;
}
