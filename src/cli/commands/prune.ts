import { hostname } from "node:os";
import { lockPlanForMaintenance } from "../../check/maintenance-lock.js";
import type { Config } from "../../config/schema.js";
import { openEngines } from "../../engine/open.js";
import type { RepositoryEngine } from "../../engine/types.js";
import { errorMessage } from "../../errors.js";
import { log } from "../../log.js";
import type { RunPlan } from "../../core/plan.js";
import { planRun } from "../../run/plan.js";
import { applyPlanRetention, type PlanRetentionReport } from "../../run/retention.js";
import { newRunId } from "../../core/runid.js";
import { withInterrupts } from "../../core/signals.js";
import { defineCommand } from "../command.js";
import { selectPlans } from "./plans.js";

export const pruneCommand = defineCommand({
  name: "prune",
  summary: "apply each plan's retention to its repositories and to its local snapshots",
  positionals: [
    {
      name: "PLAN",
      optional: true,
      variadic: true,
      description: "plans to prune (default: every plan)",
      complete: "plan",
    },
  ],
  options: {
    "dry-run": {
      type: "boolean",
      description: "list what would be kept (and by which rule) and removed; change nothing",
    },
    repository: {
      type: "string",
      value: "NAME",
      description: "only this repository",
      complete: "repository",
    },
  },
  examples: [
    { command: "snapback prune --dry-run", description: "what retention would remove" },
    { command: "snapback prune home", description: "apply the retention of home" },
  ],
  async run({ global, values, positionals }, io) {
    const { config } = await io.load(global);
    const planNames = selectPlans(config, positionals);
    const dryRun = values["dry-run"] === true;

    // Secrets for every plan first: a config problem stops the command before anything runs.
    const engines = new Map<string, RepositoryEngine[]>();
    for (const name of planNames) {
      const all = await openEngines(config, name, { resolveSecrets: true });
      engines.set(
        name,
        values.repository === undefined ? all : all.filter((e) => e.repoName === values.repository),
      );
    }

    const { value: reports, interruptedBy } = await withInterrupts(async (signal) => {
      const out: PlanRetentionReport[] = [];
      for (const name of planNames) {
        if (signal.aborted) break;
        out.push(await prunePlan(config, name, engines.get(name) ?? [], dryRun, signal));
      }
      return out;
    });
    if (interruptedBy) return 130;

    const ok = reports.every((r) => r.ok);
    if (global.json) io.printJson({ dry_run: dryRun, ok, plans: reports });
    else for (const r of reports) for (const line of describeRetention(r)) io.print(line);
    return ok ? 0 : pruneExitCode(reports);
  },
});

async function prunePlan(
  config: Config,
  planName: string,
  engines: RepositoryEngine[],
  dryRun: boolean,
  signal: AbortSignal,
): Promise<PlanRetentionReport> {
  const plan = config.plans[planName];
  if (!plan) throw new Error(`internal: unknown plan ${planName}`);
  // The plan's groups say where its local snapshots are; a source that is gone only costs
  // the local part, never the repositories'.
  let groups: RunPlan["groups"] = [];
  let planError: string | undefined;
  try {
    groups = (await planRun(config, planName, newRunId())).groups;
  } catch (e) {
    planError = `local snapshots not looked at: ${errorMessage(e)}`;
  }
  const run = async (): Promise<PlanRetentionReport> =>
    applyPlanRetention({
      planName,
      plan,
      host: plan.host ?? hostname(),
      engines,
      groups,
      dryRun,
      signal,
      stateDir: config.state_dir,
    });
  let report: PlanRetentionReport;
  if (dryRun) report = await run();
  else {
    await using locks = await lockPlanForMaintenance(
      config.state_dir,
      planName,
      engines.map((e) => e.repoName),
      signal,
      (m) => log.warn(m),
    );
    void locks;
    report = await run();
  }
  if (planError !== undefined) {
    report.local.errors.push(planError);
    report.ok = false;
  }
  for (const r of report.repositories)
    if (r.error !== undefined) log.error(`${planName} → ${r.repository}: ${r.error}`);
  for (const e of report.local.errors) log.error(`${planName}: ${e}`);
  return report;
}

/** Human-readable lines for one plan's retention. */
export function describeRetention(r: PlanRetentionReport): string[] {
  const would = r.dry_run ? "would remove" : "removed";
  const lines: string[] = [];
  for (const repo of r.repositories) {
    const head = `plan ${r.plan} → ${repo.repository} (host ${repo.host})`;
    if (repo.skipped !== undefined) {
      lines.push(`${head}: ${repo.skipped}`);
      continue;
    }
    if (repo.error !== undefined) {
      lines.push(`${head}: failed: ${repo.error}`);
      continue;
    }
    lines.push(
      `${head}: keep ${repo.keep.length}, ${would} ${repo.remove.length}${repo.pruned ? ", pruned" : ""}`,
    );
    for (const s of repo.keep)
      lines.push(`  keep          ${s.short_id}  ${shortTime(s.time)}  ${s.reasons.join(", ")}`);
    for (const s of repo.remove)
      lines.push(`  ${would.padEnd(12)}  ${s.short_id}  ${shortTime(s.time)}`);
  }
  const local = r.local;
  if (local.keep.length + local.remove.length > 0 || local.keep_runs > 0) {
    lines.push(
      `plan ${r.plan} local snapshots (keep the newest ${local.keep_runs} per source): keep ${local.keep.length}, ${would} ${local.remove.length}`,
    );
    for (const k of local.keep) lines.push(`  keep          ${k.path}  ${shortTime(k.time)}`);
    for (const k of local.remove)
      lines.push(`  ${would.padEnd(12)}  ${k.path}  ${shortTime(k.time)}`);
  }
  for (const kind of local.unsupported)
    lines.push(`plan ${r.plan}: ${kind} snapshots cannot be kept as local restore points yet`);
  for (const e of local.errors) lines.push(`plan ${r.plan}: ${e}`);
  return lines;
}

function shortTime(iso: string): string {
  return iso.replace("T", " ").replace(/\.\d+Z$|Z$/, "");
}

/** 1, unless every failure was a repository that could not be used for the same reason (2, 4). */
function pruneExitCode(reports: PlanRetentionReport[]): number {
  if (reports.some((r) => r.local.errors.length > 0)) return 1;
  const codes = reports.flatMap((r) =>
    r.repositories.flatMap((x) => (x.error === undefined ? [] : [x.exit_code ?? 1])),
  );
  return codes.length > 0 && codes.every((c) => c === codes[0]) ? (codes[0] ?? 1) : 1;
}
