import { bytes, duration, percent, str } from "../format.js";
import type { WireEvent } from "../types.js";

/** What a run is doing, from the newest of its events. */
export function phaseOf(events: WireEvent[]): string {
  for (let i = events.length - 1; i >= 0; i--) {
    const t = events[i]?.type;
    if (t === "phase") return String(events[i]?.["phase"]);
    if (t === "result") return "done";
    if (t === "progress" || t === "backup_start" || t === "summary") return "engine";
    if (t === "snapshots") return "engine";
    if (t === "start") return "snapshot";
  }
  return "starting";
}

export interface RepoProgress {
  repository: string;
  event: WireEvent;
}

export function ProgressView({ phase, repos }: { phase: string; repos: RepoProgress[] }) {
  return (
    <div class="progress" aria-live="polite">
      <p>
        Phase: <strong class="phase">{phase}</strong>
      </p>
      {repos.map(({ repository, event: e }) => {
        const fraction = typeof e["percent_done"] === "number" ? e["percent_done"] : 0;
        return (
          <div class="repo-progress" key={repository} data-repository={repository}>
            <div class="row">
              <strong>{repository}</strong>
              <span class="pct">{percent(fraction)}</span>
            </div>
            <progress max={1} value={fraction} aria-label={`${repository} progress`} />
            <div class="row small">
              <span>
                {str(e["files_done"] ?? 0)} / {str(e["total_files"] ?? "?")} files
              </span>
              <span>
                {bytes(e["bytes_done"] as number)} / {bytes(e["total_bytes"] as number)}
              </span>
              <span>
                ETA{" "}
                {typeof e["seconds_remaining"] === "number"
                  ? duration(e["seconds_remaining"])
                  : "–"}
              </span>
            </div>
          </div>
        );
      })}
    </div>
  );
}
