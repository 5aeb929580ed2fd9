import type { BackupProgress } from "../engine/types.js";
import type { RunEvent } from "../core/events.js";

/**
 * The `progress` event of an engine's progress report. `percent_done` stays the engine's
 * fraction 0–1 (restic's JSON, the D-Bus `PercentDone`): only a renderer for people scales it.
 */
export function progressEvent(
  plan: string,
  repository: string,
  pr: BackupProgress,
): Extract<RunEvent, { type: "progress" }> {
  return {
    type: "progress",
    plan,
    repository,
    percent_done: pr.fraction,
    files_done: pr.filesDone,
    total_files: pr.totalFiles,
    bytes_done: pr.bytesDone,
    total_bytes: pr.totalBytes,
    seconds_elapsed: pr.secondsElapsed,
    seconds_remaining: pr.secondsRemaining ?? null,
    // On the bus only when [dbus] broadcast_file_names says so (src/dbus strips them).
    current_files: pr.currentFiles,
  };
}
