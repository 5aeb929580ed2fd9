import { openEngines } from "../../engine/open.js";
import { UsageError } from "../../errors.js";
import { LiveEvents, openHistory } from "../../history/index.js";
import { channelsForPlan } from "../../notify/index.js";
import { log, redact } from "../../log.js";
import { applyRun } from "../../run/apply.js";
import type { RunEvent } from "../../run/events.js";
import { describeRunPlan, planRun, type RunPlan } from "../../run/plan.js";
import type { RepositoryEngine } from "../../engine/types.js";
import { describeEntry, reclaimOrphans } from "../../run/reclaim.js";
import { newRunId } from "../../run/runid.js";
import { withInterrupts } from "../../run/signals.js";
import { TerminalReporter } from "../../report/terminal.js";
import { parseCommand, parseDuration } from "../args.js";
import type { Command } from "../command.js";
import { combineExitCodes, selectPlans } from "./plans.js";

export const backupCommand: Command = {
  name: "backup",
  summary: "run the named plans, or all plans (--dry-run: show what would happen)",
  usage:
    "snapback backup [PLAN...] [--dry-run] [--wait DURATION]\n  --wait DURATION  if the plan is already running, wait up to DURATION (30s, 5m, 1h) for it to finish instead of exiting 4",
  async run(argv, io) {
    const { global, values, positionals, help } = parseCommand("backup", argv, {
      "dry-run": { type: "boolean" },
      wait: { type: "string" },
      // Hidden: `snapback serve` names the run it starts so it can answer 202 {run_id} at once.
      "run-id": { type: "string" },
    });
    if (help) {
      io.print(this.usage);
      return 0;
    }
    const lockWaitMs = values.wait === undefined ? undefined : parseDuration(values.wait, "--wait");
    const { config } = await io.load(global);
    const planNames = selectPlans(config, positionals);
    const givenRunId = values["run-id"];
    if (givenRunId !== undefined && (planNames.length !== 1 || !/^[\w.-]{1,64}$/.test(givenRunId)))
      throw new UsageError(`--run-id: "${givenRunId}" needs exactly one plan and a plain id`);
    const runIds = new Map(planNames.map((n) => [n, givenRunId ?? newRunId()]));
    // Started by `snapback serve`: if the daemon dies, its end of our stdout goes with it. The
    // run finishes anyway (its events still reach the history) instead of dying of EPIPE.
    if (givenRunId !== undefined) process.stdout.on("error", () => undefined);

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
    using history = openHistory(config.state_dir);
    // Runs started here show live in `snapback serve` through the history store.
    const live = new LiveEvents(history, {
      redact,
      onError: (e) => log.warn(`history: live events not recorded: ${String(e)}`),
    });
    const emit = (event: RunEvent): void => {
      live.record(event);
      if (global.json) io.printJson(event);
      else reporter.handle(event);
    };

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
};
