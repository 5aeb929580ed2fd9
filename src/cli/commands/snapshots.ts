import { basename } from "node:path";
import type { Config } from "../../config/schema.js";
import { databaseFromTags, planDatabasesTag } from "../../databases/index.js";
import { ResticEngine } from "../../engine/restic-engine.js";
import { openEngines } from "../../engine/open.js";
import { listLocalSnapshots } from "../../run/local-snapshots.js";
import { planRun } from "../../run/plan.js";
import { newRunId } from "../../core/runid.js";
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
  /** "files" for a backup of the sources, "database" for a dump (restored with --database). */
  kind: "files" | "database";
  /** The plan's database entry a dump belongs to (the NAME of `restore --database NAME`). */
  database?: string;
  paths: string[];
  tags: string[];
  host: string;
}

/** Rows as text columns padded to their widest cell; the last column is not padded. */
export function alignColumns(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}

/**
 * Failures of a listing: printed once each. When nothing could be listed the last one is
 * thrown, so the command ends with its exit code (2 for a wrong password) and its message
 * printed by the CLI entry alone.
 */
function reportFailures(failures: unknown[], listedAnything: boolean): void {
  const last = failures.at(-1);
  if (!listedAnything && last instanceof SnapbackError) {
    for (const e of failures.slice(0, -1)) log.error(errorMessage(e));
    throw last;
  }
  for (const e of failures) log.error(errorMessage(e));
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
    const failures: unknown[] = [];
    let listed = 0;
    for (const plan of plans) {
      for (const engine of await openEngines(config, plan, { resolveSecrets: true })) {
        if (values.repository && engine.repoName !== values.repository) continue;
        try {
          // restic ORs repeated --tag filters: the plan's file backups and its database dumps
          // come from one `restic snapshots` (one repository open, not two).
          const found =
            engine instanceof ResticEngine
              ? await engine.planSnapshotsAnd(plan, planDatabasesTag(plan))
              : await engine.snapshots(plan);
          listed++;
          for (const s of found) {
            const database = databaseFromTags(s.tags);
            listing.push({
              id: s.id,
              short_id: s.shortId,
              time: s.time,
              plan,
              repository: engine.repoName,
              kind: database === undefined ? "files" : "database",
              ...(database === undefined ? {} : { database }),
              paths: s.paths,
              tags: s.tags,
              host: s.host,
            });
          }
        } catch (e) {
          // The message already names the repository; the plan is added when there are several.
          failures.push(
            plans.length > 1 && e instanceof SnapbackError
              ? new SnapbackError(`${plan}: ${e.message}`, {
                  exitCode: e.exitCode,
                  ...(e.hint === undefined ? {} : { hint: e.hint }),
                })
              : e,
          );
        }
      }
    }
    reportFailures(failures, listed > 0);
    listing.sort((a, b) => a.time.localeCompare(b.time));
    if (global.json) io.printJson(listing);
    else if (listing.length === 0) io.print("no backups");
    else {
      const rows = listing.map((s) => [
        s.short_id,
        s.time.replace(/\.\d+/, ""),
        s.plan,
        s.repository,
        s.database === undefined ? s.kind : `database ${s.database}`,
        s.host,
        s.paths.join(","),
      ]);
      const header = ["ID", "Time", "Plan", "Repository", "Kind", "Host", "Paths"];
      for (const line of alignColumns([header, ...rows])) io.print(line);
    }
    return failures.length > 0 ? 1 : 0;
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
  /**
   * A nested restore point (a subvolume below a source, snapshotted on its own): the name of
   * the restore point it belongs in, whose directory at `source` is empty. Null otherwise.
   */
  parent: string | null;
}

/** Restore points are found where the plan puts its snapshots now; no repository is opened. */
async function listLocal(
  config: Config,
  plans: string[],
  json: boolean,
  io: CommandIO,
): Promise<number> {
  const rows: LocalListing[] = [];
  const failures: unknown[] = [];
  let listed = 0;
  for (const plan of plans) {
    try {
      const { groups } = await planRun(config, plan, newRunId());
      for (const k of await listLocalSnapshots(groups, plan)) {
        const snapshot = k.objects[0] ?? "";
        const name = basename(snapshot);
        const base = {
          plan,
          name,
          time: new Date(k.createdMs).toISOString(),
          run_id: k.runId,
          kind: k.kind,
          snapshot,
          parent: null,
        };
        const group: LocalListing[] = [];
        if (k.sources.length === 0) group.push({ ...base, source: null, path: snapshot });
        for (const s of k.sources) group.push({ ...base, source: s.source, path: s.path });
        for (const n of k.nested ?? [])
          group.push({
            ...base,
            source: n.source,
            name: basename(n.path),
            path: n.path,
            snapshot: n.path,
            parent: name,
          });
        rows.push(...group.sort((a, b) => (a.source ?? "").localeCompare(b.source ?? "")));
      }
      listed++;
    } catch (e) {
      failures.push(
        plans.length > 1 && e instanceof SnapbackError
          ? new SnapbackError(`${plan}: ${e.message}`, {
              exitCode: e.exitCode,
              ...(e.hint === undefined ? {} : { hint: e.hint }),
            })
          : e,
      );
    }
  }
  reportFailures(failures, listed > 0);
  // Stable: a restore point's rows stay together, its nested ones after their parent's.
  rows.sort((a, b) => a.time.localeCompare(b.time));
  if (json) io.printJson(rows);
  else if (rows.length === 0) io.print("no local snapshots");
  else {
    const header = ["Time", "Plan", "Source", "Name", "Parent", "Path"];
    const cells = rows.map((r) => [
      r.time.replace(/\.\d+/, ""),
      r.plan,
      r.source ?? "-",
      r.name,
      r.parent ?? "-",
      r.path,
    ]);
    for (const line of alignColumns([header, ...cells])) io.print(line);
  }
  return failures.length > 0 ? 1 : 0;
}
