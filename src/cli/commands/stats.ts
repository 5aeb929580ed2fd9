import { planStats, type PlanStats } from "../../engine/restic/inspect.js";
import { UsageError } from "../../errors.js";
import { defineCommand } from "../command.js";
import { clearStaleLocks, planRepositories } from "./repository.js";

function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u] ?? ""}`;
}

export const statsCommand = defineCommand({
  name: "stats",
  summary: "how many backups of a plan each repository holds, and their sizes",
  positionals: [{ name: "PLAN", description: "the plan", complete: "plan" }],
  options: {
    repository: {
      type: "string",
      value: "NAME",
      description: "only this repository of the plan (default: all of them)",
      complete: "repository",
    },
  },
  examples: [
    {
      command: "snapback stats home",
      description: "backups, restore size and stored (deduplicated) data per repository",
    },
    { command: "snapback --json stats home", description: "the same as a JSON array" },
  ],
  async run({ global, values, positionals }, io) {
    const [plan, ...extra] = positionals;
    if (plan === undefined || extra.length > 0)
      throw new UsageError("stats: name exactly one PLAN", { hint: "see: snapback stats --help" });
    const { config } = await io.load(global);
    const rows: (PlanStats & { plan: string; repository: string })[] = [];
    for (const opened of await planRepositories(config, "stats", plan, values.repository, "all")) {
      await clearStaleLocks(opened, false);
      rows.push({
        plan,
        repository: opened.target.repoName,
        ...(await planStats(opened.target, plan, opened.options)),
      });
    }
    if (global.json) {
      io.printJson(rows);
      return 0;
    }
    for (const r of rows)
      io.print(
        `${r.plan} in ${r.repository}: ${r.snapshots} backup${r.snapshots === 1 ? "" : "s"}, ` +
          `restore size ${bytes(r.restore_size)} (${r.files} files), stored ${bytes(r.raw_data)} in ${r.blobs} blobs`,
      );
    return 0;
  },
});
