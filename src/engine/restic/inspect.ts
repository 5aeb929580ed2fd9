import { UsageError } from "../../errors.js";
import { run } from "../../exec/index.js";
import type { EngineSnapshot } from "../types.js";
import { prepareRestic, runRestic, type ResticOptions, type ResticTarget } from "./command.js";
import { resolveSnapshot } from "./restore.js";
import { planTag } from "./snapshots.js";

/** One line of `restic diff --json`: a path and what happened to it (+ - M T U ?). */
export interface DiffChange {
  path: string;
  modifier: string;
}

export interface DiffReport {
  from: EngineSnapshot;
  to: EngineSnapshot;
  changes: DiffChange[];
  /** restic's own statistics object, passed on as it prints it. */
  statistics: Record<string, unknown>;
}

function jsonObject(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const v: unknown = JSON.parse(line);
    return v !== null && typeof v === "object" ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** What changed between two backups of one plan; both ids must be that plan's. */
export async function diffSnapshots(
  target: ResticTarget,
  planName: string,
  refs: [string, string],
  options: ResticOptions = {},
): Promise<DiffReport> {
  const from = await resolveSnapshot(target, planName, refs[0], options);
  const to = await resolveSnapshot(target, planName, refs[1], options);
  const changes: DiffChange[] = [];
  let statistics: Record<string, unknown> = {};
  await runRestic(target, ["diff", "--json", from.id, to.id], {
    ...options,
    action: "diff",
    onStdoutLine: (line) => {
      const o = jsonObject(line);
      if (!o) return;
      const type = o["message_type"];
      if (type === "change" && typeof o["path"] === "string")
        changes.push({
          path: o["path"],
          modifier: typeof o["modifier"] === "string" ? o["modifier"] : "?",
        });
      else if (type === "statistics") statistics = o;
    },
  });
  return { from, to, changes, statistics };
}

/** One entry of a backup as `restic ls --json` describes it. */
export interface LsEntry {
  path: string;
  type: string;
  size?: number;
  permissions?: string;
  mtime?: string;
}

/** The entries of one backup of a plan (`latest` or an id), optionally below `path`. */
export async function listSnapshotFiles(
  target: ResticTarget,
  planName: string,
  ref: string,
  path: string | undefined,
  options: ResticOptions = {},
): Promise<{ snapshot: EngineSnapshot; entries: LsEntry[] }> {
  const snapshot = await resolveSnapshot(target, planName, ref, options);
  const entries: LsEntry[] = [];
  const args = ["ls", "--json", snapshot.id];
  if (path !== undefined) args.push("--", path);
  await runRestic(target, args, {
    ...options,
    action: "ls",
    onStdoutLine: (line) => {
      const o = jsonObject(line);
      if (!o || (o["struct_type"] ?? o["message_type"]) !== "node") return;
      if (typeof o["path"] !== "string") return;
      entries.push({
        path: o["path"],
        type: typeof o["type"] === "string" ? o["type"] : "?",
        ...(typeof o["size"] === "number" ? { size: o["size"] } : {}),
        ...(typeof o["permissions"] === "string" ? { permissions: o["permissions"] } : {}),
        ...(typeof o["mtime"] === "string" ? { mtime: new Date(o["mtime"]).toISOString() } : {}),
      });
    },
  });
  return { snapshot, entries };
}

export interface PlanStats {
  snapshots: number;
  /** The size of a full restore of every backup (restic's restore-size mode). */
  restore_size: number;
  files: number;
  /** The deduplicated data those backups reference in the repository (raw-data mode). */
  raw_data: number;
  blobs: number;
}

/** Sizes of one plan's backups in one repository. */
export async function planStats(
  target: ResticTarget,
  planName: string,
  options: ResticOptions = {},
): Promise<PlanStats> {
  const stats = async (mode: string): Promise<Record<string, unknown>> => {
    const r = await runRestic(
      target,
      ["stats", "--json", `--mode=${mode}`, `--tag=${planTag(planName)}`],
      { ...options, action: "stats" },
    );
    return jsonObject(r.stdout.trim().split("\n").at(-1) ?? "") ?? {};
  };
  const restore = await stats("restore-size");
  const raw = await stats("raw-data");
  const num = (v: unknown): number => (typeof v === "number" ? v : 0);
  return {
    snapshots: num(restore["snapshots_count"]),
    restore_size: num(restore["total_size"]),
    files: num(restore["total_file_count"]),
    raw_data: num(raw["total_size"]),
    blobs: num(raw["total_blob_count"]),
  };
}

/**
 * Removes the named backups of one plan. Every id is resolved among the plan's own backups
 * first, so a typo or another plan's id is refused before anything is removed.
 */
export async function forgetSnapshots(
  target: ResticTarget,
  planName: string,
  refs: readonly string[],
  opts: ResticOptions & { prune: boolean; dryRun: boolean },
): Promise<EngineSnapshot[]> {
  const chosen: EngineSnapshot[] = [];
  for (const ref of refs) {
    if (ref === "latest")
      throw new UsageError(`forget: name backups by id, not "latest" (see: snapback snapshots)`);
    const s = await resolveSnapshot(target, planName, ref, opts);
    if (!chosen.some((c) => c.id === s.id)) chosen.push(s);
  }
  if (opts.dryRun) return chosen;
  const args = ["forget", ...(opts.prune ? ["--prune"] : []), "--", ...chosen.map((s) => s.id)];
  await runRestic(target, args, { ...opts, action: "forget" });
  return chosen;
}

/**
 * Runs restic against a repository like nixpkgs' `createWrapper`: the repository, password and
 * env come through the environment (never argv), the terminal is restic's, and its exit code
 * is the result.
 */
export async function runResticWrapper(
  target: ResticTarget,
  args: readonly string[],
  options: ResticOptions & { signal: AbortSignal },
): Promise<number> {
  // The repository's tuning flags apply (global flags, as the user's restic would want them);
  // its extra_args do not: the user types this command's flags.
  const prepared = await prepareRestic(target, args, { ...options, action: "wrapper" });
  const r = await run(prepared.binary.path, prepared.args, {
    env: prepared.env,
    inheritStdio: true,
    reject: false,
    killSignal: "SIGINT",
    signal: options.signal,
  });
  if (r.exitCode !== null) return r.exitCode;
  return r.aborted ? 130 : 1;
}
