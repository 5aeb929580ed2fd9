import { diffSnapshots } from "../../engine/restic/inspect.js";
import { UsageError } from "../../errors.js";
import { defineCommand } from "../command.js";
import { clearStaleLocks, planRepositories } from "./repository.js";

export const diffCommand = defineCommand({
  name: "diff",
  summary: "what changed between two backups of a plan",
  positionals: [
    { name: "PLAN", description: "the plan both backups belong to", complete: "plan" },
    { name: "ID1", description: "the older backup: an id, a unique prefix, or latest" },
    { name: "ID2", description: "the newer backup: an id, a unique prefix, or latest" },
  ],
  options: {
    repository: {
      type: "string",
      value: "NAME",
      description: "which of the plan's repositories (default: its first)",
      complete: "repository",
    },
  },
  examples: [
    {
      command: "snapback diff home 1a2b3c4d latest",
      description: "files added (+), removed (-) and modified (M) since backup 1a2b3c4d",
    },
    {
      command: "snapback --json diff home 1a2b3c4d 5e6f7a8b",
      description: "the changes and restic's statistics as one JSON document",
    },
  ],
  async run({ global, values, positionals }, io) {
    const [plan, id1, id2, ...extra] = positionals;
    if (plan === undefined || id1 === undefined || id2 === undefined || extra.length > 0)
      throw new UsageError("diff: expected PLAN ID1 ID2", { hint: "see: snapback diff --help" });
    const { config } = await io.load(global);
    const [opened] = await planRepositories(config, "diff", plan, values.repository, "first");
    if (!opened) throw new UsageError(`diff: plan "${plan}" has no repository`);
    await clearStaleLocks(opened, false);
    const report = await diffSnapshots(opened.target, plan, [id1, id2], opened.options);
    if (global.json) {
      io.printJson({
        plan,
        repository: opened.target.repoName,
        from: report.from.id,
        to: report.to.id,
        changes: report.changes,
        statistics: report.statistics,
      });
      return 0;
    }
    io.print(
      `comparing backup ${report.from.shortId} (${report.from.time}) with ${report.to.shortId} (${report.to.time}) of plan ${plan} in ${opened.target.repoName}:`,
    );
    for (const c of report.changes) io.print(`${c.modifier.padEnd(4)} ${c.path}`);
    const count = (m: string): number => report.changes.filter((c) => c.modifier === m).length;
    io.print(
      report.changes.length === 0
        ? "no changes"
        : `${count("+")} added, ${count("-")} removed, ${count("M") + count("T") + count("U")} modified`,
    );
    return 0;
  },
});
