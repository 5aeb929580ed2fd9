import type { HistoryStore } from "./store.js";

/** What `LiveEvents` needs of an event: its type, and the run id on a run's first event. */
export interface LiveEvent {
  type: string;
  plan?: string;
  run_id?: string;
}

/**
 * Writes a run's events into the history store so that other processes (`snapback serve`)
 * show runs started anywhere live. Progress is written at most once per `progressEveryMs`
 * (restic reports many times a second; a SQLite commit each time would cost more than the
 * backup); every other event at once. A failing write never fails the run: it is reported
 * once through `onError`.
 */
export class LiveEvents {
  private readonly runOfPlan = new Map<string, string>();
  private readonly lastProgressAt = new Map<string, number>();
  private failed = false;

  constructor(
    private readonly store: HistoryStore,
    private readonly options: {
      progressEveryMs?: number;
      /** Applied to the event's JSON before it is stored (secrets). */
      redact?: (text: string) => string;
      onError?: (e: unknown) => void;
      now?: () => number;
    } = {},
  ) {}

  record(event: LiveEvent): void {
    if (event.plan === undefined) return;
    if (event.type === "start" && event.run_id !== undefined)
      this.runOfPlan.set(event.plan, event.run_id);
    const runId = event.run_id ?? this.runOfPlan.get(event.plan);
    if (runId === undefined) return;
    if (event.type === "progress") {
      const now = (this.options.now ?? Date.now)();
      const last = this.lastProgressAt.get(runId);
      if (last !== undefined && now - last < (this.options.progressEveryMs ?? 1000)) return;
      this.lastProgressAt.set(runId, now);
    }
    const json = JSON.stringify(event);
    try {
      this.store.appendEvent(
        runId,
        event.plan,
        JSON.parse(this.options.redact ? this.options.redact(json) : json) as LiveEvent,
      );
    } catch (e) {
      if (!this.failed) this.options.onError?.(e);
      this.failed = true;
    }
    if (event.type === "result") {
      this.runOfPlan.delete(event.plan);
      this.lastProgressAt.delete(runId);
    }
  }
}
