import type { ResultEvent, RunStatus, SummaryEvent } from "../core/events.js";
import { FAMILY_BY_NAME, type Family } from "./families.js";
import { labelString, type Sample } from "./exposition.js";

/** One finished run of a plan, as the metrics see it. */
export interface MetricsRun {
  result: ResultEvent;
  summaries: readonly SummaryEvent[];
  /** When the run ended; default: when the metrics are written. */
  finishedAt?: Date;
}

const STATUSES: readonly RunStatus[] = ["success", "partial", "failed", "interrupted"];

export function samplesOfRun(run: MetricsRun, now: Date): Sample[] {
  const r = run.result;
  const plan = r.plan;
  const ended = (run.finishedAt ?? now).getTime() / 1000;
  const out: Sample[] = [];
  const add = (name: string, value: number, labels: Record<string, string> = {}): void => {
    out.push({ name, labels: { plan, ...labels }, value });
  };

  add("snapback_last_run_timestamp_seconds", ended);
  if (r.status === "success") add("snapback_last_success_timestamp_seconds", ended);
  add("snapback_last_run_duration_seconds", r.duration_s);
  for (const s of STATUSES) add("snapback_last_run_status", s === r.status ? 1 : 0, { status: s });
  if (r.snapshot_skew_ms !== null) {
    add("snapback_last_run_snapshot_skew_seconds", r.snapshot_skew_ms / 1000);
  }
  add("snapback_last_run_warnings", r.warnings.length);

  for (const repository of Object.keys(r.failed_repositories)) {
    add("snapback_repository_last_run_success", 0, { repository });
  }
  for (const s of run.summaries) {
    if (s.plan !== plan || Object.hasOwn(r.failed_repositories, s.repository)) continue;
    const repository = s.repository;
    add("snapback_repository_last_run_success", 1, { repository });
    if (s.error_count === 0) {
      add("snapback_repository_last_success_timestamp_seconds", ended, { repository });
    }
    add("snapback_backup_duration_seconds", s.duration_s, { repository });
    add("snapback_backup_data_added_bytes", s.data_added, { repository });
    add("snapback_backup_files_new", s.files_new, { repository });
    add("snapback_backup_files_changed", s.files_changed, { repository });
    add("snapback_backup_files_unmodified", s.files_unmodified, { repository });
    add("snapback_backup_processed_files", s.total_files_processed, { repository });
    add("snapback_backup_processed_bytes", s.total_bytes_processed, { repository });
    add("snapback_backup_errors", s.error_count, { repository });
  }
  return out;
}

/**
 * The previous samples with these runs applied: a plan that ran loses all its last-run
 * samples (a repository it no longer reaches must not keep stale figures) and gets the new
 * ones; sticky samples are replaced only where the run set them. Other plans are untouched.
 * Samples of metrics snapback no longer writes are dropped.
 */
export function merge(
  previous: readonly Sample[],
  runs: readonly MetricsRun[],
  now: Date,
): Sample[] {
  const ran = new Set(runs.map((r) => r.result.plan));
  const byKey = new Map<string, Sample>();
  for (const s of previous) {
    const family = FAMILY_BY_NAME.get(s.name);
    if (!family || !hasLabels(family, s)) continue;
    if (!family.sticky && ran.has(s.labels.plan ?? "")) continue;
    byKey.set(key(family, s), s);
  }
  for (const run of runs) {
    for (const s of samplesOfRun(run, now)) {
      const family = FAMILY_BY_NAME.get(s.name);
      if (family) byKey.set(key(family, s), s);
    }
  }
  return [...byKey.values()];
}

function hasLabels(family: Family, s: Sample): boolean {
  const names = Object.keys(s.labels);
  return names.length === family.labels.length && family.labels.every((l) => names.includes(l));
}

function key(family: Family, s: Sample): string {
  return family.name + labelString(family, s.labels);
}
