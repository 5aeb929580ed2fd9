import type { Config } from "../../config/schema.js";
import { listPlanDumps } from "../../databases/index.js";
import { openEngines } from "../../engine/open.js";
import { listLocalSnapshots } from "../../run/local-snapshots.js";
import { planRun } from "../../run/plan.js";
import { newRunId } from "../../run/runid.js";
import { errorMessage, SnapbackError } from "../../errors.js";
import { log } from "../../log.js";
import { defineCommand, type CommandIO } from "../command.js";
import { selectPlans } from "./plans.js";

export interface SnapshotListing {
  id: string;
  short_id: string;
  time: string;
  plan: string;
  repository: string;
  paths: string[];
  tags: string[];
  host: string;
}

export const snapshotsCommand = defineCommand({
  name: "snapshots",
  summary: "list the backups of the plans in their repositories",
  positionals: [
    {
      name: "PLAN",
      optional: true,
      variadic: true,
      description: "plans whose backups to list (default: every plan)",
      complete: "plan",
    },
  ],
  options: {
    repository: {
      type: "string",
      value: "NAME",
      description: "only this repository",
      complete: "repository",
    },
    local: {
      type: "boolean",
      description: "list the filesystem snapshots kept on the sources (local_snapshots) instead",
    },
  },
  examples: [
    { command: "snapback snapshots", description: "every backup of every plan" },
    {
      command: "snapback --json snapshots home --repository offsite",
      description: "the backups of home in offsite, as a JSON array",
    },
    { command: "snapback snapshots --local", description: "restore points kept on the sources" },
  ],
  async run({ global, values, positionals }, io) {
    const { config } = await io.load(global);
    const plans = selectPlans(config, positionals);
    if (values.local) return listLocal(config, plans, global.json, io);
    const listing: SnapshotListing[] = [];
    let failures = 0;
    for (const plan of plans) {
      for (const engine of await openEngines(config, plan, { resolveSecrets: true })) {
        if (values.repository && engine.repoName !== values.repository) continue;
        try {
          const dumps = engine.engine === "restic" ? await listPlanDumps(engine, plan) : [];
          for (const s of [...(await engine.snapshots(plan)), ...dumps]) {
            listing.push({
              id: s.id,
              short_id: s.shortId,
              time: s.time,
              plan,
              repository: engine.repoName,
              paths: s.paths,
              tags: s.tags,
              host: s.host,
            });
          }
        } catch (e) {
          failures++;
          log.error(`${plan} → ${engine.repoName}: ${errorMessage(e)}`);
          if (plans.length === 1 && e instanceof SnapbackError && !global.json) throw e;
        }
      }
    }
    listing.sort((a, b) => a.time.localeCompare(b.time));
    if (global.json) io.printJson(listing);
    else if (listing.length === 0) io.print("no backups");
    else {
      io.print(["ID", "Time", "Plan", "Repository", "Host", "Paths"].join("\t"));
      for (const s of listing)
        io.print(
          [
            s.short_id,
            s.time.replace(/\.\d+/, ""),
            s.plan,
            s.repository,
            s.host,
            s.paths.join(","),
          ].join("\t"),
        );
    }
    return failures > 0 ? 1 : 0;
  },
});

/** One row of `snapshots --local`: where a source's files are in a kept restore point. */
export interface LocalListing {
  plan: string;
  /** The original source path, or null when the plan no longer maps it (sources changed). */
  source: string | null;
  name: string;
  /** Where the source's files are inside the snapshot (the snapshot itself without a source). */
  path: string;
  time: string;
  run_id: string;
  kind: string;
  snapshot: string;
}

/** Restore points are found where the plan puts its snapshots now; no repository is opened. */
async function listLocal(
  config: Config,
  plans: string[],
  json: boolean,
  io: CommandIO,
): Promise<number> {
  const rows: LocalListing[] = [];
  let failures = 0;
  for (const plan of plans) {
    try {
      const { groups } = await planRun(config, plan, newRunId());
      for (const k of await listLocalSnapshots(groups, plan)) {
        const snapshot = k.objects[0] ?? "";
        const base = {
          plan,
          name: snapshot.split("/").at(-1) ?? "",
          time: new Date(k.createdMs).toISOString(),
          run_id: k.runId,
          kind: k.kind,
          snapshot,
        };
        if (k.sources.length === 0) rows.push({ ...base, source: null, path: snapshot });
        for (const s of k.sources) rows.push({ ...base, source: s.source, path: s.path });
      }
    } catch (e) {
      failures++;
      log.error(`${plan}: ${errorMessage(e)}`);
      if (plans.length === 1 && e instanceof SnapbackError && !json) throw e;
    }
  }
  rows.sort(
    (a, b) => a.time.localeCompare(b.time) || (a.source ?? "").localeCompare(b.source ?? ""),
  );
  if (json) io.printJson(rows);
  else if (rows.length === 0) io.print("no local snapshots");
  else {
    io.print(["Time", "Plan", "Source", "Name", "Path"].join("\t"));
    for (const r of rows)
      io.print([r.time.replace(/\.\d+/, ""), r.plan, r.source ?? "-", r.name, r.path].join("\t"));
  }
  return failures > 0 ? 1 : 0;
}
