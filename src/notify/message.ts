import { formatBytes, formatDuration, replicatedText } from "../report/format.js";
import type { RunStatus } from "../core/events.js";
import type { RunReport, StartContext } from "./types.js";

/** Human-readable texts shared by the channels. Plain ASCII where it ends up in a header. */

const STATUS_WORDS: Record<RunStatus, string> = {
  success: "succeeded",
  partial: "partially succeeded",
  failed: "FAILED",
  interrupted: "was interrupted",
};

/** e.g. "snapback home: backup FAILED" (ASCII: used as an HTTP header value). */
export function title(report: RunReport): string {
  return `snapback ${report.result.plan}: backup ${STATUS_WORDS[report.result.status]}`;
}

export function startTitle(ctx: StartContext): string {
  return `snapback ${ctx.plan}: backup started`;
}

export function startText(ctx: StartContext): string {
  const lines = [`plan ${ctx.plan}, run ${ctx.run_id}: started`];
  if (ctx.sources?.length) lines.push(`sources: ${ctx.sources.join(", ")}`);
  if (ctx.repositories?.length) lines.push(`repositories: ${ctx.repositories.join(", ")}`);
  return lines.join("\n");
}

const MAX_WARNINGS = 5;

/** A few lines: outcome, per-repository figures, error, warnings. */
export function summaryText(report: RunReport): string {
  const r = report.result;
  const lines = [`plan ${r.plan}, run ${r.run_id}: ${r.status} in ${formatDuration(r.duration_s)}`];
  if (r.error) lines.push(`error: ${r.error}`);
  for (const s of report.summaries) {
    if (s.replicated) {
      lines.push(
        `${s.repository}: snapshot ${s.snapshot_id}, ${replicatedText(s.replicated)}, ${formatDuration(s.duration_s)}`,
      );
      continue;
    }
    lines.push(
      `${s.repository}: snapshot ${s.snapshot_id.slice(0, 8)}, files ${s.files_new} new, ` +
        `${s.files_changed} changed, ${s.files_unmodified} unmodified, ` +
        `${formatBytes(s.data_added)} added, ${formatDuration(s.duration_s)}` +
        (s.error_count > 0 ? `, ${s.error_count} unreadable` : ""),
    );
  }
  for (const [repo, why] of Object.entries(r.failed_repositories)) {
    lines.push(`${repo}: FAILED: ${why}`);
  }
  if (r.snapshot_skew_ms !== null && r.snapshot_skew_ms > 0) {
    lines.push(`snapshot skew: ${r.snapshot_skew_ms} ms`);
  }
  if (r.not_point_in_time.length > 0) {
    lines.push(`not point-in-time (no snapshot): ${r.not_point_in_time.join(", ")}`);
  }
  for (const w of r.warnings.slice(0, MAX_WARNINGS)) lines.push(`warning: ${w}`);
  if (r.warnings.length > MAX_WARNINGS) {
    lines.push(`... and ${r.warnings.length - MAX_WARNINGS} more warnings`);
  }
  return lines.join("\n");
}

/** One line for receivers that show a short status message (Uptime Kuma). */
export function shortText(report: RunReport, maxChars = 200): string {
  const r = report.result;
  let text = `${r.status} in ${formatDuration(r.duration_s)}`;
  if (r.error) text += `: ${r.error}`;
  else if (Object.keys(r.failed_repositories).length > 0) {
    text += `: failed ${Object.keys(r.failed_repositories).join(", ")}`;
  } else if (report.summaries.length > 0) {
    const added = report.summaries.reduce((sum, s) => sum + s.data_added, 0);
    text += `, ${formatBytes(added)} added to ${report.summaries.length} repositories`;
  }
  const oneLine = text.replace(/\s+/g, " ");
  return oneLine.length <= maxChars ? oneLine : `${oneLine.slice(0, maxChars - 3)}...`;
}

/**
 * Keeps the END of text within maxBytes of UTF-8 (the newest log lines matter most), marking
 * the cut. Never splits a multi-byte character.
 */
export function keepTail(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= maxBytes) return text;
  const marker = (n: number): string => `[... ${n} bytes cut ...]\n`;
  // The marker's own size depends on the count it shows; reserve room for the largest.
  const room = Math.max(0, maxBytes - Buffer.byteLength(marker(bytes.length)));
  let start = bytes.length - room;
  while (start < bytes.length && ((bytes[start] ?? 0) & 0xc0) === 0x80) start++;
  return marker(start) + bytes.subarray(start).toString("utf8");
}
