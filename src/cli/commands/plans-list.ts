import { existsSync } from "node:fs";
import { join } from "node:path";
import { HISTORY_FILE, openHistory, type RunRecord } from "../../history/index.js";
import { defineCommand } from "../command.js";

export interface PlanListing {
  name: string;
  sources: string[];
  repositories: string[];
  schedule: string | null;
  last_run: { status: string; time: string; error: string | null } | null;
}

export const plansCommand = defineCommand({
  name: "plans",
  summary: "list the plans with their sources, repositories, schedule and last result",
  options: {
    names: {
      type: "boolean",
      description: "print only the plan names, one per line (for scripts and shell completion)",
    },
  },
  examples: [
    { command: "snapback plans", description: "every plan and how its last run ended" },
    { command: "snapback --json plans", description: "the same as a JSON array" },
  ],
  async run({ global, values }, io) {
    const { config } = await io.load(global);
    const names = Object.keys(config.plans);
    if (values.names) {
      if (global.json) io.printJson(names);
      else for (const n of names) io.print(n);
      return 0;
    }
    // Listing plans must not create a state directory where none is yet.
    const latest: RunRecord[] = [];
    if (existsSync(join(config.state_dir, HISTORY_FILE))) {
      using history = openHistory(config.state_dir);
      latest.push(...history.latestPerPlan());
    }
    const plans: PlanListing[] = names.map((name) => {
      const plan = config.plans[name];
      const last = latest.find((r) => r.plan === name);
      return {
        name,
        sources: plan?.sources ?? [],
        repositories: plan?.repositories ?? [],
        schedule: plan?.schedule ?? null,
        last_run: last
          ? { status: last.status, time: last.endedAt ?? last.startedAt, error: last.error }
          : null,
      };
    });
    if (global.json) {
      io.printJson(plans);
      return 0;
    }
    if (plans.length === 0) io.print("the config defines no plans ([plans.NAME])");
    for (const p of plans) {
      const last = p.last_run
        ? `${p.last_run.status} at ${p.last_run.time}${p.last_run.error ? ` (${p.last_run.error})` : ""}`
        : "never run";
      io.print(p.name);
      io.print(`  sources:      ${p.sources.join(", ")}`);
      io.print(`  repositories: ${p.repositories.join(", ")}`);
      io.print(`  schedule:     ${p.schedule ?? "none"}`);
      io.print(`  last run:     ${last}`);
    }
    return 0;
  },
});
