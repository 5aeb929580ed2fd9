import { redact } from "../log.js";
import type { RunEvent } from "../core/events.js";
import { formatBytes, formatDuration, replicatedText } from "./format.js";

/** The stderr line of a warning or error event (also printed next to its JSON with --json). */
export function problemLine(event: Extract<RunEvent, { type: "warning" | "error" }>): string {
  const text = event.repository ? `${event.repository}: ${event.message}` : event.message;
  return `${event.type}: ${redact(text)}\n`;
}

/**
 * Renders run events for people: a live progress line per repository on a TTY, and plain
 * lines at most every `plainEveryMs` otherwise (logs, journald). Results go to stdout,
 * everything transient to stderr.
 */
export class TerminalReporter {
  /** Plain progress starts after the first interval: short backups print none. */
  private lastPlain = Date.now();
  private liveLine = false;

  constructor(
    private readonly out: (line: string) => void,
    private readonly err: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
    private readonly quiet = false,
    private readonly plainEveryMs = 10_000,
  ) {}

  handle = (event: RunEvent): void => {
    switch (event.type) {
      case "start":
        this.note(
          `backup ${event.plan}: ${event.sources.join(", ")} → ${event.repositories.join(", ")} (run ${event.run_id})`,
        );
        break;
      case "reclaimed":
        this.note(`reclaimed leftover of run ${event.run_id}: ${event.what}`);
        break;
      case "snapshots": {
        const parts = event.groups
          .filter((g) => g.kind !== "none")
          .map(
            (g) =>
              `${g.kind} ${g.sources.join(", ")}${g.atomic && g.sources.length > 1 ? " (atomic)" : ""}`,
          );
        const skew =
          parts.length > 1 ? `; skew ${event.skew_ms.toFixed(1)} ms between first and last` : "";
        if (parts.length)
          this.note(
            `snapshots taken in ${event.took_ms.toFixed(0)} ms: ${parts.join("; ")}${skew}`,
          );
        break;
      }
      case "backup_start":
        this.note(`${event.repository}: backing up`);
        break;
      case "phase":
        this.note(
          event.phase === "retention" ? "applying retention" : "running the scheduled check",
        );
        break;
      case "progress":
        this.progress(event);
        break;
      case "warning":
      case "error":
        this.clearLive();
        this.err.write(problemLine(event));
        break;
      case "summary":
        this.clearLive();
        this.out(
          event.replicated
            ? `${event.plan} → ${event.repository}: snapshot ${event.snapshot_id}: ${replicatedText(event.replicated)} in ${formatDuration(event.duration_s)}`
            : `${event.plan} → ${event.repository}: snapshot ${event.snapshot_id.slice(0, 8)}: files ${event.files_new} new, ${event.files_changed} changed, ${event.files_unmodified} unmodified; ${formatBytes(event.data_added)} added in ${formatDuration(event.duration_s)}${event.error_count ? `; ${event.error_count} files unreadable` : ""}`,
        );
        break;
      case "database_summary":
        this.clearLive();
        this.out(
          `${event.plan} → ${event.repository}: database ${event.database} (${event.db_type}) dumped to ${event.path}: ${formatBytes(event.bytes)}, ${formatBytes(event.data_added)} added in ${formatDuration(event.duration_s)}`,
        );
        break;
      case "result":
        this.clearLive();
        if (event.retention && !event.retention.error) {
          const r = event.retention;
          this.note(
            `retention: ${r.removed} backups removed, ${r.kept} kept${r.pruned ? ", repository pruned" : ""}${r.local_removed + r.local_kept > 0 ? `; local snapshots: ${r.local_removed} removed, ${r.local_kept} kept` : ""}`,
          );
        }
        this.out(
          `${event.plan}: ${event.status}${event.error ? ` (${redact(event.error)})` : ""}${event.snapshot_skew_ms !== null ? `, snapshot skew ${event.snapshot_skew_ms.toFixed(1)} ms` : ""}`,
        );
        break;
    }
  };

  private note(line: string): void {
    if (this.quiet) return;
    this.clearLive();
    this.err.write(`${line}\n`);
  }

  private progress(e: Extract<RunEvent, { type: "progress" }>): void {
    if (this.quiet) return;
    const eta = e.seconds_remaining !== null ? ` ETA ${formatDuration(e.seconds_remaining)}` : "";
    const text = `${e.repository}: ${(e.percent_done * 100).toFixed(1)}% ${e.files_done}/${e.total_files} files ${formatBytes(e.bytes_done)}/${formatBytes(e.total_bytes)}${eta}`;
    if (this.err.isTTY) {
      const width = (this.err.columns ?? 80) - 1;
      this.err.write(`\r\x1b[K${text.slice(0, width)}`);
      this.liveLine = true;
      return;
    }
    const now = Date.now();
    if (now - this.lastPlain < this.plainEveryMs) return;
    this.lastPlain = now;
    this.err.write(`${text}\n`);
  }

  private clearLive(): void {
    if (this.liveLine) {
      this.err.write("\r\x1b[K");
      this.liveLine = false;
    }
  }
}
