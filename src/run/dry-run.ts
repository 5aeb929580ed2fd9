import { join } from "node:path";
import type { Config } from "../config/schema.js";
import { databasesOf, describeDatabaseDumps, dumpSelector } from "../databases/index.js";
import { openEngines } from "../engine/open.js";
import { displayUrl, optionArgs, probeRestic } from "../engine/restic/index.js";
import { forgetArgs, hasKeepRules } from "../engine/restic/forget.js";
import { describeHooks } from "../hooks/index.js";
import { collectIgnorePatterns } from "../ignore/index.js";
import type { RunPlan } from "../core/plan.js";
import { describeRunPlan } from "./plan.js";
import { keepRules } from "./retention.js";

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
}

/** Where the run writes its exclude file (the real name ends in 16 random hex digits). */
export function excludeFilePreview(p: RunPlan): string {
  return join(p.tmpDir, "snapback-exclude-XXXXXXXXXXXXXXXX");
}

export async function describeDryRun(config: Config, p: RunPlan): Promise<DryRun> {
  const engines = await openEngines(config, p.planName, { resolveSecrets: false });
  let excludeFile: DryRun["exclude_file"];
  const name = p.plan.ignore_file;
  if (name !== undefined) {
    // The run reads every source and nested subvolume from its snapshot; here, live.
    const roots = [...p.sources.map((s) => s.path), ...p.groups.flatMap((g) => g.snapshot.nested)];
    const restic = await probeRestic().catch(() => undefined);
    const found = await collectIgnorePatterns(
      [...new Set(roots)].map((r) => ({ readFrom: r, original: r })),
      name,
      restic ? { resticVersion: restic.version } : {},
    );
    excludeFile = {
      path: excludeFilePreview(p),
      patterns: [...found.patterns, ...p.plan.exclude, ...p.internalExcludes],
      ignore_files_problems: [...found.errors, ...found.warnings],
    };
  }
  const commands = engines.map(
    (e) =>
      `[${e.repoName}] ${e.describeBackup({
        planName: p.planName,
        plan: p.plan,
        paths: p.sources.map((s) => s.path),
        extraExcludes: p.internalExcludes,
        host: p.host,
        ...(excludeFile === undefined ? {} : { excludeFile: excludeFile.path }),
      })}`,
  );
  return {
    type: "dry_run",
    plan: p.planName,
    sources: p.sources,
    groups: p.groups.map((g) => g.snapshot),
    repositories: p.repositories,
    excludes: p.internalExcludes,
    warnings: [
      ...p.notPointInTime.map((s) => `${s} is backed up live, not point-in-time`),
      ...p.warnings,
    ],
    hooks: describeHooks(p.plan.hooks),
    databases: describeDatabaseDumps(p.planName, p.plan),
    ...(excludeFile === undefined ? {} : { exclude_file: excludeFile }),
    commands,
    after: describeAfterBackup(config, p),
  };
}

/** Retention and the scheduled check, as `applyRetentionAfterBackup` would run them. */
function describeAfterBackup(config: Config, p: RunPlan): string[] {
  const lines: string[] = [];
  const retention = p.plan.retention;
  if (retention) {
    const rules = keepRules(retention);
    for (const repoName of p.repositories) {
      const repo = config.repositories[repoName];
      if (!repo) continue;
      if (!hasKeepRules(rules)) {
        lines.push(`[${repoName}] retention: no keep_* rule, every backup is kept`);
        continue;
      }
      if (repo.engine !== "restic") {
        lines.push(`[${repoName}] retention: ${repo.engine} keep rules ${JSON.stringify(rules)}`);
        continue;
      }
      const restic = (args: string[]): string =>
        `[${repoName}] RESTIC_REPOSITORY=${displayUrl(repo.url)} restic ${[...optionArgs(repo), ...args].join(" ")}`;
      lines.push(restic(forgetArgs({ planName: p.planName, host: p.host, rules, dryRun: false })));
      for (const db of databasesOf(p.plan)) {
        lines.push(
          restic(
            forgetArgs({
              planName: p.planName,
              host: p.host,
              rules,
              dryRun: false,
              tags: dumpSelector(p.planName, db.name),
            }),
          ),
        );
      }
      if (retention.prune) lines.push(`${restic(["prune"])}   (when forget removed a backup)`);
    }
    lines.push(
      `local restore points: keep the newest ${retention.local_snapshots} run(s) of snapshots on the sources`,
    );
  }
  const check = p.plan.check;
  if (check) {
    const what = [
      "check the repository structure",
      ...(check.read_data === undefined ? [] : [`read back ${check.read_data} of the data`]),
      ...(check.spot === undefined ? [] : [`spot-check ${check.spot} files against the snapshot`]),
    ].join(", ");
    lines.push(
      `check: ${what}${check.every === undefined ? " after every backup" : `, when the last is older than ${check.every}`}`,
    );
  }
  return lines;
}

/** The text of `backup --dry-run` for one plan. */
export function dryRunLines(p: RunPlan, d: DryRun): string[] {
  const lines = describeRunPlan(p, d.commands);
  // describeRunPlan ends with the engine commands; what the ignore files add goes before them.
  const firstRun = lines.findIndex((l) => l.startsWith("  run: "));
  const extra: string[] = [];
  if (d.exclude_file) {
    extra.push(
      `  exclude file ${d.exclude_file.path} (${d.exclude_file.patterns.length} patterns; ignore files read from the live sources here, from the snapshots in the run):`,
    );
    for (const pattern of d.exclude_file.patterns) extra.push(`    ${pattern}`);
    for (const problem of d.exclude_file.ignore_files_problems) extra.push(`  warning: ${problem}`);
  }
  lines.splice(firstRun < 0 ? lines.length : firstRun, 0, ...extra);
  for (const a of d.after) lines.push(`  after: ${a}`);
  return lines;
}
