import type { HistoryStore } from "../history/store.js";
import { isAlive } from "../util/proc.js";

/**
 * Stops a run this daemon did not start (a CLI run, a systemd timer's): it is a `snapback
 * backup` process recorded in the history with its pid and kernel start time, and SIGTERM is
 * exactly how a user stops one — engine SIGINTed, everything unwound, status interrupted. The
 * start time guards against a recycled pid. False when it is not running (any more).
 */
export function cancelExternalRun(history: HistoryStore, runId: string): boolean {
  const rec = history.get(runId);
  if (!rec || rec.status !== "running") return false;
  const id = { pid: rec.pid, startTime: rec.pidStartTime };
  if (rec.pid <= 1 || rec.pidStartTime === "" || !isAlive(id)) return false;
  try {
    process.kill(rec.pid, "SIGTERM");
    return true;
  } catch {
    return false;
  }
}
