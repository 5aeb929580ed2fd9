import { SnapbackError } from "../../errors.js";

/** Between steps and repositories: nothing new starts once the run is interrupted. */
export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new SnapbackError("interrupted");
}
