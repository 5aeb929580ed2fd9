import { openEngines } from "../../engine/open.js";
import { UsageError } from "../../errors.js";
import { openHistory } from "../../history/index.js";
import { channelsForPlan } from "../../notify/index.js";
import { log } from "../../log.js";
import { applyRun } from "../../run/apply.js";
import type { RunEvent } from "../../run/events.js";
import { describeRunPlan, planRun, type RunPlan } from "../../run/plan.js";
import type { RepositoryEngine } from "../../engine/types.js";
import { describeEntry, reclaimOrphans } from "../../run/reclaim.js";
import { newRunId } from "../../run/runid.js";
import { withInterrupts } from "../../run/signals.js";
import { TerminalReporter } from "../../report/terminal.js";
import { parseDuration } from "../args.js";
import { defineCommand } from "../command.js";
import { combineExitCodes, selectPlans } from "./plans.js";

export const backupCommand = defineCommand({
  name: "backup",
  summary: "run the named plans, or all plans (--dry-run: show what would happen)",
  description: [
    "Snapshots the sources, shows the snapshots to the engine at their original paths, backs them up to every repository of the plan, removes the snapshots and applies retention. With several plans, every plan that can run runs; the exit code is the worst plan's.",
  ],
  positionals: [
    {
      name: "PLAN",
      optional: true,
      variadic: true,
      description: "plans to back up (default: every plan)",
      complete: "plan",
    },
  ],
  options: {
    "dry-run": {
      type: "boolean",
      description:
        "print what would be snapshotted, mounted and run (hooks, dumps, restic commands); touch nothing",
    },
    wait: {
      type: "string",
      value: "DURATION",
      description:
        "if the plan is already running, wait up to DURATION (30s, 5m, 1h) for it instead of exiting 4",
    },
  },
  examples: [
    { command: "snapback backup", description: "back up every plan" },
    {
      command: "snapback backup home --dry-run",
      description: "show what a backup of home would do",
    },
    {
      command: "snapback --json backup home",
      description: "newline-delimited JSON events (progress, summary, result) on stdout",
    },
  ],
  async run({ global, values, positionals }, io) {
    const lockWaitMs = values.wait === undefined ? undefined : parseDuration(values.wait, "--wait");
    const { config } = await io.load(global);
    const planNames = selectPlans(config, positionals);
    const runIds = new Map(planNames.map((n) => [n, newRunId()]));

    // Plans first, for every named plan: a bad source fails the whole command before
    // anything is created.
    const plans: RunPlan[] = [];
    for (const name of planNames)
      plans.push(await planRun(config, name, runIds.get(name) ?? newRunId()));

    if (values["dry-run"]) {
      const docs = [];
      for (const p of plans) {
        const engines = await openEngines(config, p.planName, { resolveSecrets: false });
        const commands = engines.map(
          (e) =>
            `[${e.repoName}] ${e.describeBackup({ planName: p.planName, plan: p.plan, paths: p.sources.map((s) => s.path), extraExcludes: p.internalExcludes, host: p.host })}`,
        );
        if (global.json)
          docs.push({
            type: "dry_run",
            plan: p.planName,
            sources: p.sources,
            groups: p.groups.map((g) => g.snapshot),
            repositories: p.repositories,
            excludes: p.internalExcludes,
            warnings: p.warnings,
            commands,
          });
        else for (const line of describeRunPlan(p, commands)) io.print(line);
      }
      for (const d of docs) io.printJson(d);
      return 0;
    }

    const engineSets: RepositoryEngine[][] = [];
    for (const p of plans)
      engineSets.push(await openEngines(config, p.planName, { resolveSecrets: true }));

    const reporter = new TerminalReporter(io.print, process.stderr, global.quiet);
    const emit = (event: RunEvent): void =>
      global.json ? io.printJson(event) : reporter.handle(event);

    using history = openHistory(config.state_dir);
    const { value: codes, interruptedBy } = await withInterrupts(async (signal) => {
      for (const r of await reclaimOrphans(config.state_dir)) {
        const what = describeEntry(r.entry);
        if (r.error) log.warn(`could not remove leftover ${what} of run ${r.runId}: ${r.error}`);
        else emit({ type: "reclaimed", what, run_id: r.runId });
      }
      const codes: number[] = [];
      for (const [i, p] of plans.entries()) {
        if (signal.aborted) break;
        const applied = await applyRun(p, {
          engines: engineSets[i] ?? [],
          emit,
          signal,
          history,
          notify: channelsForPlan(config.notify, p.plan.notify),
          ...(config.metrics ? { metricsPath: config.metrics.textfile } : {}),
          ...(lockWaitMs === undefined ? {} : { lockWaitMs }),
        });
        codes.push(applied.exitCode);
      }
      return codes;
    });
    if (interruptedBy) return 130;
    if (codes.length === 0) throw new UsageError("no plan ran");
    return combineExitCodes(codes);
  },
});
