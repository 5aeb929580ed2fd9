import type { ResultEvent, RunStatus, SummaryEvent } from "../core/events.js";
import type { ChannelType, NotifyEvent } from "../config/notify.js";

/** What is known when a run starts (the `start` event without its type). */
export interface StartContext {
  plan: string;
  run_id: string;
  sources?: readonly string[];
  repositories?: readonly string[];
}

/** What a run ended with. `logTail` is the last lines of the run's log, oldest first. */
export interface RunReport {
  result: ResultEvent;
  summaries: readonly SummaryEvent[];
  logTail: readonly string[];
}

/** A notification that could not be delivered. Carries no URL, token or header value. */
export interface NotifyFailure {
  type: ChannelType;
  /** Host (and port) of the receiver: the only part of its URL that is not a secret. */
  host: string;
  event: NotifyEvent;
  reason: string;
  attempts: number;
}

export interface NotifyOptions {
  /** First pause between attempts, doubled after each; default 1000 ms (tests shorten it). */
  backoffMs?: number;
}

export type FinishEvent = Exclude<NotifyEvent, "start">;

export function finishEventOf(status: RunStatus): FinishEvent {
  switch (status) {
    case "success":
      return "success";
    case "partial":
      return "partial";
    case "failed":
    case "interrupted":
      return "failure";
  }
}
