import type { RunPlan } from "../../core/plan.js";

/**
 * Everything `backup --dry-run` shows of one plan: the snapshots and mounts (the RunPlan), the
 * hooks, the database dumps, the engine commands exactly as the run would give them (with the
 * ignore files' `--exclude-file`), and what retention and the scheduled check would run after.
 * Read-only: ignore files are read from the live sources (the run reads them from the
 * snapshots), no password is read, no repository opened.
 */
export interface DryRun {
  type: "dry_run";
  plan: string;
  sources: RunPlan["sources"];
  groups: RunPlan["groups"][number]["snapshot"][];
  repositories: string[];
  /** snapback's own paths kept out of the backup. */
  excludes: string[];
  warnings: string[];
  hooks: string[];
  databases: string[];
  /** With `ignore_file`: the file the run writes and passes as `--exclude-file`, and its patterns. */
  exclude_file?: { path: string; patterns: string[]; ignore_files_problems: string[] };
  /** The engine command of each repository, `[repo] …`. */
  commands: string[];
  /** What runs after a successful backup: forget/prune per repository, local restore points, check. */
  after: string[];
  /** The run's steps in order (src/run/pipeline.ts). */
  steps: string[];
}
