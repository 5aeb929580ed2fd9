import { openHistory } from "../../history/index.js";
import { defineCommand } from "../command.js";
import { requirePlans } from "./plans.js";

export const statusCommand = defineCommand({
  name: "status",
  summary: "runs in progress and the latest result of every plan",
  options: {},
  examples: [
    { command: "snapback status", description: "one line per plan" },
    { command: "snapback --json status", description: "the same as one JSON document" },
  ],
  async run({ global }, io) {
    const { path, config } = await io.load(global);
    requirePlans(path, config);
    const history = openHistory(config.state_dir);
    try {
      const running = history.runsInProgress();
      const latest = history.latestPerPlan();
      const plans = Object.keys(config.plans).map((plan) => ({
        plan,
        running: running.find((r) => r.plan === plan) ?? null,
        latest: latest.find((r) => r.plan === plan) ?? null,
      }));
      if (global.json) {
        io.printJson({ plans });
        return 0;
      }
      for (const p of plans) {
        const last = p.latest;
        const lastText = last
          ? `${last.status} at ${last.endedAt ?? last.startedAt}${last.error ? ` (${last.error})` : ""}`
          : "never run";
        io.print(
          `${p.plan}: ${p.running ? `RUNNING since ${p.running.startedAt} (pid ${p.running.pid}); ` : ""}last: ${lastText}`,
        );
      }
      return 0;
    } finally {
      history.close();
    }
  },
});
