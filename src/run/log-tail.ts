import { redact } from "../log.js";
import type { RunEvent } from "../core/events.js";
import { replicatedText } from "../report/format.js";

/**
 * The last lines of a run in words, for the history store and notifications: what a person
 * reading `snapback status` after a failure needs. Progress is left out; secrets are redacted.
 */
export class LogTail {
  private readonly buffer: string[] = [];
  constructor(private readonly max = 50) {}

  record(event: RunEvent): void {
    const line = describe(event);
    if (line === undefined) return;
    this.buffer.push(`${new Date().toISOString()} ${redact(line)}`);
    if (this.buffer.length > this.max) this.buffer.shift();
  }

  lines(): string[] {
    return [...this.buffer];
  }
}

function describe(e: RunEvent): string | undefined {
  switch (e.type) {
    case "start":
      return `start ${e.plan}: ${e.sources.join(", ")} -> ${e.repositories.join(", ")}`;
    case "snapshots":
      return `snapshots: ${e.groups.map((g) => `${g.kind} ${g.sources.join(",")}`).join("; ")} (skew ${e.skew_ms} ms)`;
    case "warning":
      return `warning: ${e.repository ? `${e.repository}: ` : ""}${e.message}`;
    case "error":
      return `error: ${e.repository ? `${e.repository}: ` : ""}${e.message}`;
    case "summary":
      if (e.replicated)
        return `${e.repository}: snapshot ${e.snapshot_id}, ${replicatedText(e.replicated)}`;
      return `${e.repository}: snapshot ${e.snapshot_id.slice(0, 8)}, ${e.files_new} new, ${e.files_changed} changed, ${e.files_unmodified} unmodified, ${e.data_added} bytes added`;
    case "database_summary":
      return `${e.repository}: database ${e.database} dumped (${e.bytes} bytes) as ${e.snapshot_id.slice(0, 8)}`;
    case "result":
      return `result: ${e.status}${e.error ? ` (${e.error})` : ""}`;
    default:
      return undefined;
  }
}
