import type { Plan } from "../../config/schema.js";
import { openRunBus } from "../../dbus/index.js";
import { openEngines } from "../../engine/open.js";
import { LockedError, UsageError } from "../../errors.js";
import { LiveEvents, openHistory } from "../../history/index.js";
import { channelsForPlan } from "../../notify/index.js";
import { log, redact, setProblemSink } from "../../log.js";
import { applyRun } from "../../run/pipeline.js";
import { failUnrunnablePlan } from "../../run/unrunnable.js";
import type { RunEvent } from "../../core/events.js";
import type { RunPlan } from "../../core/plan.js";
import { planRun } from "../../run/plan.js";
import { describeDryRun, dryRunLines } from "../../run/dry-run.js";
import type { RepositoryEngine } from "../../engine/types.js";
import { describeEntry, reclaimOrphans } from "../../run/reclaim.js";
import { newRunId } from "../../core/runid.js";
import { withInterrupts } from "../../core/signals.js";
import { problemLine, TerminalReporter } from "../../report/terminal.js";
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
    // `snapback serve` names the run it starts so it can answer 202 {run_id} at once.
    "run-id": { type: "string", description: "the run's id (snapback serve)", hidden: true },
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
    const givenRunId = values["run-id"];
    if (givenRunId !== undefined && (planNames.length !== 1 || !/^[\w.-]{1,64}$/.test(givenRunId)))
      throw new UsageError(`--run-id: "${givenRunId}" needs exactly one plan and a plain id`);
    const runIds = new Map(planNames.map((n) => [n, givenRunId ?? newRunId()]));
    // Started by `snapback serve`: if the daemon dies, its end of our stdout goes with it. The
    // run finishes anyway (its events still reach the history) instead of dying of EPIPE.
    if (givenRunId !== undefined)
      for (const stream of [process.stdout, process.stderr]) stream.on("error", () => undefined);

    if (values["dry-run"]) {
      // A dry run shows a plan or says why it cannot run; it records nothing.
      const plans: RunPlan[] = [];
      for (const name of planNames)
        plans.push(await planRun(config, name, runIds.get(name) ?? newRunId()));
      const docs = [];
      for (const p of plans) docs.push({ p, d: await describeDryRun(config, p) });
      for (const { p, d } of docs)
        if (global.json) io.printJson(d);
        else for (const line of dryRunLines(config, p, d)) io.print(line);
      return 0;
    }

    // Every plan is planned before the first one runs, so that the snapshots of a run are not
    // held while another plan's sources are being looked at. A plan that cannot run becomes a
    // failed run of its own below; the others still run.
    const runs: PlanToRun[] = [];
    for (const name of planNames) {
      const planConfig = config.plans[name];
      if (!planConfig) continue; // selectPlans() named only defined plans
      const runId = runIds.get(name) ?? newRunId();
      try {
        const p = await planRun(config, name, runId);
        runs.push({
          name,
          runId,
          plan: p,
          engines: await openEngines(config, name, { resolveSecrets: true }),
        });
      } catch (error) {
        runs.push({ name, runId, planConfig, error });
      }
    }

    const reporter = new TerminalReporter(io.print, process.stderr, global.quiet);
    using history = openHistory(config.state_dir);
    // Runs started here show live in `snapback serve` through the history store.
    const live = new LiveEvents(history, {
      redact,
      onError: (e) => log.warn(`history: live events not recorded: ${String(e)}`),
    });
    // D-Bus (issue 14): this run owns org.snapback.Snapback1 unless the daemon does.
    await using bus = await openRunBus(config);
    // --json: stdout carries every event, problems included; their human line goes to stderr.
    const emit = (event: RunEvent): void => {
      live.record(event);
      bus.publish(event);
      if (!global.json) return reporter.handle(event);
      io.printJson(event);
      if (event.type === "warning" || event.type === "error")
        process.stderr.write(problemLine(event));
    };
    // log.warn/log.error of the run's parts too (the CLI entry unsets it before printing).
    if (global.json) setProblemSink((type, message) => io.printJson({ type, message }));

    const { value: codes, interruptedBy } = await withInterrupts(async (signal) => {
      for (const r of await reclaimOrphans(config.state_dir)) {
        const what = describeEntry(r.entry);
        if (r.error) log.warn(`could not remove leftover ${what} of run ${r.runId}: ${r.error}`);
        else emit({ type: "reclaimed", what, run_id: r.runId });
      }
      const codes: number[] = [];
      for (const r of runs) {
        if (signal.aborted) break;
        const finish = {
          emit,
          history,
          notify: channelsForPlan(
            config.notify,
            "error" in r ? r.planConfig.notify : r.plan.plan.notify,
          ),
          ...(config.metrics ? { metricsPath: config.metrics.textfile } : {}),
        };
        if ("error" in r) {
          const failed = await failUnrunnablePlan(
            { planName: r.name, plan: r.planConfig, runId: r.runId, error: r.error },
            finish,
          );
          codes.push(failed.exitCode);
          continue;
        }
        try {
          const applied = await applyRun(r.plan, {
            ...finish,
            engines: r.engines,
            signal,
            ...(lockWaitMs === undefined ? {} : { lockWaitMs }),
          });
          codes.push(applied.exitCode);
        } catch (e) {
          // A plan another run holds is that run's business (not a failure to record), but
          // it must not keep the remaining plans from running.
          if (!(e instanceof LockedError)) throw e;
          emit({
            type: "error",
            plan: r.name,
            message: e.hint ? `${e.message} (${e.hint})` : e.message,
            exit_code: e.exitCode,
          });
          codes.push(e.exitCode);
        }
      }
      return codes;
    });
    if (interruptedBy) return 130;
    if (codes.length === 0) throw new UsageError("no plan ran");
    return combineExitCodes(codes);
  },
});

/** One selected plan: ready to run, or the reason it cannot. */
type PlanToRun =
  | { name: string; runId: string; plan: RunPlan; engines: RepositoryEngine[] }
  | { name: string; runId: string; planConfig: Plan; error: unknown };
