import { join } from "node:path";
import type { Config } from "../config/schema.js";
import { describeDatabaseDumps } from "../databases/index.js";
import { openEngines } from "../engine/open.js";
import { probeRestic } from "../engine/restic/index.js";
import { describeHooks } from "../hooks/index.js";
import { collectIgnorePatterns } from "../ignore/index.js";
import type { RunPlan } from "../core/plan.js";
import { RUN_STEPS } from "./pipeline.js";
import type { DryRun } from "./steps/preview.js";
import { describeRetention } from "./steps/retention.js";
import { describeCheck } from "./steps/scheduled-check.js";

export type { DryRun } from "./steps/preview.js";

/** Where the run writes its exclude file (the real name ends in 16 random hex digits). */
export function excludeFilePreview(p: RunPlan): string {
  return join(p.tmpDir, "snapback-exclude-XXXXXXXXXXXXXXXX");
}

/**
 * The document of `backup --dry-run` (its `--json` output). Read-only: ignore files are read
 * from the live sources (the run reads them from the snapshots), no password is read, no
 * repository opened.
 */
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
    after: [...describeRetention(config, p), ...describeCheck(p)],
    steps: RUN_STEPS.map((s) => s.name),
  };
}

/** The text of `backup --dry-run` for one plan: what planning found, then each step of the run. */
export function dryRunLines(config: Config, p: RunPlan, d: DryRun): string[] {
  const lines = [`plan ${p.planName} (run ${p.runId}, host ${p.host})`];
  for (const s of p.sources)
    lines.push(
      `  source ${s.path}: ${s.kind} on ${s.mount.source} (${s.mount.fstype}) at ${s.mount.target}`,
    );
  for (const n of p.notPointInTime)
    lines.push(`  warning: ${n} is backed up live, not point-in-time`);
  for (const w of p.warnings) lines.push(`  warning: ${w}`);
  if (p.internalExcludes.length)
    lines.push(`  excluded (snapback's own): ${p.internalExcludes.join(", ")}`);
  for (const step of RUN_STEPS) {
    lines.push(`  [${step.name}]`);
    lines.push(...(step.describe?.({ config, p, dry: d }) ?? []));
  }
  return lines;
}
