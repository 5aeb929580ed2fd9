import { openEngines } from "../../engine/open.js";
import { errorMessage, SnapbackError } from "../../errors.js";
import { log } from "../../log.js";
import { parseCommand } from "../args.js";
import type { Command } from "../command.js";
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

export const snapshotsCommand: Command = {
  name: "snapshots",
  summary: "list the backups of the plans in their repositories",
  usage: "snapback snapshots [PLAN...] [--repository NAME]",
  async run(argv, io) {
    const { global, values, positionals, help } = parseCommand("snapshots", argv, {
      repository: { type: "string" },
    });
    if (help) {
      io.print(this.usage);
      return 0;
    }
    const { config } = await io.load(global);
    const plans = selectPlans(config, positionals);
    const listing: SnapshotListing[] = [];
    let failures = 0;
    for (const plan of plans) {
      for (const engine of await openEngines(config, plan, { resolveSecrets: true })) {
        if (values.repository && engine.repoName !== values.repository) continue;
        try {
          for (const s of await engine.snapshots(plan)) {
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
};
