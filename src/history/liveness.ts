import { isAlive, startTimeOf } from "../util/proc.js";
import type { RunRecord, RunStart } from "./store.js";

/** Is this record a run whose process still exists (same pid AND same start time)? */
export function isInProgress(record: RunRecord): boolean {
  return (
    record.status === "running" && isAlive({ pid: record.pid, startTime: record.pidStartTime })
  );
}

/** The record as reported: a "running" record whose process is gone was interrupted. */
export function reported(record: RunRecord): RunRecord {
  return record.status === "running" && !isInProgress(record)
    ? { ...record, status: "interrupted" }
    : record;
}

export function pidStartTimeOf(run: RunStart): string {
  return run.pidStartTime ?? startTimeOf(run.pid) ?? "";
}

export function checkLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new RangeError(`history: limit must be a positive integer, got ${limit}`);
  return limit;
}
