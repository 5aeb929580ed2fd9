import { forgetSnapshots } from "../../engine/restic/inspect.js";
import { UsageError } from "../../errors.js";
import { withInterrupts } from "../../core/signals.js";
import { defineCommand } from "../command.js";
import { clearStaleLocks, planRepositories } from "./repository.js";

export const forgetCommand = defineCommand({
  name: "forget",
  summary: "remove the named backups of a plan from a repository",
  description: [
    "Every id must name a backup of PLAN in the repository (a unique prefix is enough); otherwise nothing is removed. The space is freed by the next prune (or now with --prune).",
  ],
  positionals: [
    { name: "PLAN", description: "the plan the backups belong to", complete: "plan" },
    { name: "ID", variadic: true, description: "backups to remove: ids or unique prefixes" },
  ],
  options: {
    repository: {
      type: "string",
      value: "NAME",
      description: "which of the plan's repositories (default: its first)",
      complete: "repository",
    },
    prune: { type: "boolean", description: "also free the space now (restic forget --prune)" },
    "dry-run": { type: "boolean", description: "name the backups that would go; remove nothing" },
  },
  examples: [
    {
      command: "snapback forget home 1a2b3c4d --dry-run",
      description: "check which backup the prefix names",
    },
    {
      command: "snapback forget home 1a2b3c4d 5e6f7a8b --prune",
      description: "remove two backups and free their space",
    },
  ],
  async run({ global, values, positionals }, io) {
    const [plan, ...ids] = positionals;
    if (plan === undefined || ids.length === 0)
      throw new UsageError("forget: expected PLAN ID...", { hint: "see: snapback forget --help" });
    const { config } = await io.load(global);
    const [opened] = await planRepositories(config, "forget", plan, values.repository, "first");
    if (!opened) throw new UsageError(`forget: plan "${plan}" has no repository`);
    const dryRun = values["dry-run"] === true;
    const { value: removed, interruptedBy } = await withInterrupts(async (signal) => {
      await clearStaleLocks(opened, !dryRun, signal);
      return forgetSnapshots(opened.target, plan, ids, {
        ...opened.options,
        signal,
        prune: values.prune === true,
        dryRun,
      });
    });
    if (interruptedBy) return 130;
    if (global.json) {
      io.printJson({
        plan,
        repository: opened.target.repoName,
        dry_run: dryRun,
        pruned: !dryRun && values.prune === true,
        removed: removed.map((s) => ({ id: s.id, short_id: s.shortId, time: s.time })),
      });
      return 0;
    }
    for (const s of removed)
      io.print(
        `${dryRun ? "would remove" : "removed"} backup ${s.shortId} (${s.time}) of plan ${plan} from ${opened.target.repoName}`,
      );
    if (!dryRun && values.prune !== true)
      io.print("the space is freed by the next prune (snapback prune, or forget --prune)");
    return 0;
  },
});
