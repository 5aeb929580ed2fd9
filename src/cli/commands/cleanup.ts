import { log } from "../../log.js";
import { removeStaleLocks } from "../../run/lock.js";
import { describeEntry, reclaimOrphans } from "../../run/reclaim.js";
import { defineCommand } from "../command.js";

export const cleanupCommand = defineCommand({
  name: "cleanup",
  summary: "remove what interrupted runs left behind (snapshots, clones, journals, stale locks)",
  options: {
    "dry-run": { type: "boolean", description: "list what would be removed; remove nothing" },
  },
  examples: [
    { command: "snapback cleanup --dry-run", description: "what a killed run left behind" },
    { command: "snapback cleanup", description: "remove it" },
  ],
  async run({ global, values }, io) {
    const { config } = await io.load(global);
    const dryRun = values["dry-run"] === true;
    const report = await reclaimOrphans(config.state_dir, dryRun);
    const locks = dryRun ? [] : await removeStaleLocks(config.state_dir);
    const failed = report.filter((r) => r.error);
    if (global.json) {
      io.printJson({
        dry_run: dryRun,
        removed: report
          .filter((r) => !r.error)
          .map((r) => ({ run_id: r.runId, plan: r.plan, ...r.entry })),
        failed: failed.map((r) => ({ run_id: r.runId, plan: r.plan, ...r.entry, error: r.error })),
        stale_locks: locks,
      });
    } else {
      for (const r of report) {
        if (r.error)
          log.error(`could not remove ${describeEntry(r.entry)} (run ${r.runId}): ${r.error}`);
        else
          io.print(
            `${dryRun ? "would remove" : "removed"} ${describeEntry(r.entry)} (plan ${r.plan}, run ${r.runId})`,
          );
      }
      for (const l of locks) io.print(`removed stale lock ${l.path} (${l.owner})`);
      if (report.length === 0 && locks.length === 0) io.print("nothing to clean up");
    }
    return failed.length > 0 ? 1 : 0;
  },
});
