import { EventEmitter } from "node:events";

/** A `--json` event of `backup` (src/core/events.ts), as it crossed a process boundary. */
export type WireEvent = { type: string; plan?: string; run_id?: string } & Record<string, unknown>;

/**
 * One message on the daemon's run event bus. `kind` sums up what the event means for
 * subscribers that do not care about every event type (D-Bus signals, the UI's run list):
 * "started" (the run's `start` event), "progress", "finished" (its `result`, with `status`),
 * or "event" (anything else: warnings, summaries, snapshots...).
 */
export interface RunMessage {
  kind: "started" | "progress" | "finished" | "event";
  run_id: string;
  plan: string;
  /** Set on "finished": success | partial | failed | interrupted. */
  status?: string;
  /** Who started the run: this daemon, or another process (CLI, systemd timer). */
  origin: "daemon" | "external";
  /** The event itself, with `run_id` filled in. */
  event: WireEvent;
}

export type RunListener = (message: RunMessage) => void;

/**
 * The in-process bus every run event of the daemon passes through: runs the daemon started
 * (relayed from their child's stdout) and runs started anywhere else (read from the history
 * store as they are written). The SSE route, the scheduler and the D-Bus service subscribe.
 * A listener that throws is logged by the caller's `onListenerError` and never stops delivery.
 */
export class RunEventBus {
  private readonly emitter = new EventEmitter();

  constructor(private readonly onListenerError: (e: unknown) => void = () => undefined) {
    // Every SSE client is a listener; there is no leak to warn about.
    this.emitter.setMaxListeners(0);
  }

  publish(runId: string, plan: string, event: WireEvent, origin: RunMessage["origin"]): void {
    const full: WireEvent = { ...event, run_id: runId, plan };
    const kind: RunMessage["kind"] =
      event.type === "start"
        ? "started"
        : event.type === "progress"
          ? "progress"
          : event.type === "result"
            ? "finished"
            : "event";
    const message: RunMessage = {
      kind,
      run_id: runId,
      plan,
      origin,
      event: full,
      ...(kind === "finished" && typeof event["status"] === "string"
        ? { status: event["status"] }
        : {}),
    };
    for (const listener of this.emitter.listeners("run") as RunListener[]) {
      try {
        listener(message);
      } catch (e) {
        this.onListenerError(e);
      }
    }
  }

  /** Returns the function that unsubscribes. */
  subscribe(listener: RunListener): () => void {
    this.emitter.on("run", listener);
    return () => this.emitter.off("run", listener);
  }

  listenerCount(): number {
    return this.emitter.listenerCount("run");
  }
}
