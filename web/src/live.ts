import { useEffect, useRef, useState } from "preact/hooks";
import { subscribe } from "./api.js";
import type { WireEvent } from "./types.js";

/** Events of the runs in progress, by run id, as they arrive on the page's one event stream. */
export interface LiveRun {
  run_id: string;
  plan: string;
  events: WireEvent[];
  /** The newest progress event per repository. */
  progress: Map<string, WireEvent>;
  done: boolean;
  /** The result's status once done. */
  status?: string;
}

/**
 * A plan's badge: running while a run of it is live here; the result of the newest run seen
 * live (it is newer than anything the page loaded); else what the server said.
 */
export function planStatus(
  plan: { running: boolean; last_run: { status: string } | null },
  live: readonly LiveRun[],
): string | undefined {
  if (live.some((r) => !r.done)) return "running";
  const newest = live.at(-1);
  if (newest?.status) return newest.status;
  return plan.running ? "running" : plan.last_run?.status;
}

/**
 * Follows every run (or one plan's): runs started anywhere — this UI, the CLI, a timer, D-Bus —
 * reach the daemon's event bus and so this stream. `onFinished` lets a page refetch its lists.
 */
export function useLiveRuns(plan?: string, onFinished?: (e: WireEvent) => void): LiveRun[] {
  const [runs, setRuns] = useState<Map<string, LiveRun>>(new Map());
  const finished = useRef(onFinished);
  finished.current = onFinished;

  useEffect(
    () =>
      subscribe((e) => {
        const runId = e.run_id;
        if (!runId || (plan !== undefined && e.plan !== plan)) return;
        setRuns((old) => {
          const next = new Map(old);
          const run: LiveRun = next.get(runId) ?? {
            run_id: runId,
            plan: e.plan ?? "",
            events: [],
            progress: new Map(),
            done: false,
          };
          // Progress comes often: keep the newest per repository, not all of them.
          const events = e.type === "progress" ? run.events : [...run.events.slice(-200), e];
          const progress = new Map(run.progress);
          if (e.type === "progress" && typeof e["repository"] === "string")
            progress.set(e["repository"], e);
          next.set(runId, {
            ...run,
            events:
              e.type === "progress" && events.at(-1)?.type !== "progress" ? [...events, e] : events,
            progress,
            done: run.done || e.type === "result",
            ...(e.type === "result" ? { status: String(e["status"]) } : {}),
          });
          return next;
        });
        if (e.type === "result") finished.current?.(e);
      }),
    [plan],
  );
  return [...runs.values()];
}
