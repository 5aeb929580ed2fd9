/**
 * Every metric snapback writes. All are gauges describing the LAST run of a plan, except the
 * "sticky" ones, which keep their value until a later run sets them again (a failed run must
 * not erase when the plan last succeeded).
 *
 * Status is an enum gauge: snapback_last_run_status{plan,status} is 1 for the last run's
 * status and 0 for the other three (success, partial, failed, interrupted), so an alert is
 * `snapback_last_run_status{status!="success"} == 1`.
 */
export interface Family {
  name: string;
  help: string;
  labels: readonly string[];
  sticky: boolean;
}

const plan = ["plan"] as const;
const repo = ["plan", "repository"] as const;

function family(name: string, labels: readonly string[], help: string, sticky = false): Family {
  return { name, help, labels, sticky };
}

export const FAMILIES: readonly Family[] = [
  family("snapback_last_run_timestamp_seconds", plan, "Unix time the last run of the plan ended."),
  family(
    "snapback_last_success_timestamp_seconds",
    plan,
    "Unix time the last fully successful run of the plan ended.",
    true,
  ),
  family("snapback_last_run_duration_seconds", plan, "Duration of the last run of the plan."),
  family(
    "snapback_last_run_status",
    ["plan", "status"],
    "1 for the status of the last run of the plan (success, partial, failed, interrupted), 0 for the others.",
  ),
  family(
    "snapback_last_run_snapshot_skew_seconds",
    plan,
    "Time between the first and the last filesystem snapshot of the last run (absent without snapshots).",
  ),
  family("snapback_last_run_warnings", plan, "Number of warnings of the last run of the plan."),
  family(
    "snapback_repository_last_run_success",
    repo,
    "1 if the last run stored a snapshot in the repository, 0 if the repository failed.",
  ),
  family(
    "snapback_repository_last_success_timestamp_seconds",
    repo,
    "Unix time of the last run that stored a complete snapshot (no unreadable files) in the repository.",
    true,
  ),
  family(
    "snapback_backup_duration_seconds",
    repo,
    "Duration of the last backup into the repository.",
  ),
  family(
    "snapback_backup_data_added_bytes",
    repo,
    "Bytes the last backup added to the repository.",
  ),
  family("snapback_backup_files_new", repo, "Files new in the last backup."),
  family("snapback_backup_files_changed", repo, "Files changed since the previous backup."),
  family("snapback_backup_files_unmodified", repo, "Files unmodified since the previous backup."),
  family("snapback_backup_processed_files", repo, "Files the last backup looked at."),
  family("snapback_backup_processed_bytes", repo, "Bytes the last backup looked at."),
  family("snapback_backup_errors", repo, "Files or directories the last backup could not read."),
];

export const FAMILY_BY_NAME: ReadonlyMap<string, Family> = new Map(
  FAMILIES.map((f) => [f.name, f]),
);
