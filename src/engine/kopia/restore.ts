import { lstatSync, readdirSync, type Stats } from "node:fs";
import { isAbsolute, join, posix, resolve } from "node:path";
import { UsageError } from "../../errors.js";
import { normalizePath } from "../../util/paths.js";
import { runKopia, type KopiaOptions, type KopiaTarget } from "./command.js";
import { listSnapshots, sameRun, type KopiaSnapshot } from "./snapshots.js";

export interface RestoreRequest extends KopiaOptions {
  planName: string;
  target: KopiaTarget;
  /** "latest", a snapshot id or unique prefix, or the comma-separated ids a backup reported. */
  snapshot: string;
  /** Restored files land at <dir>/<original absolute path>, as with restic. */
  dir: string;
  /** Original absolute paths to restore; default everything. */
  include: string[];
  /** Replace existing files; without it a restore that would replace one is refused. */
  overwrite: boolean;
}

/** One `kopia restore SOURCE DEST`. */
export interface RestoreStep {
  /** "<manifest id>" or "<manifest id>/<path inside the source>". */
  source: string;
  dest: string;
}

export interface RestorePlan {
  snapshots: KopiaSnapshot[];
  steps: RestoreStep[];
}

const SHOWN_CONFLICTS = 5;

/**
 * The snapshots a reference names, whole runs at a time: a backup of several sources is
 * several kopia snapshots sharing a run tag, and any of their ids stands for the backup.
 */
export function resolveSnapshots(
  all: readonly KopiaSnapshot[],
  planName: string,
  ref: string,
  repoName: string,
): KopiaSnapshot[] {
  const where = `repository "${repoName}"`;
  if (ref === "latest") {
    const latest = all.at(-1);
    if (!latest) throw new UsageError(`plan "${planName}" has no backup in ${where}`);
    return sameRun(all, latest);
  }
  const picked = new Map<string, KopiaSnapshot>();
  for (const part of ref
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (!/^[0-9a-zA-Z]{1,64}$/.test(part)) {
      throw new UsageError(`--snapshot ${part}: not a snapshot id nor "latest"`);
    }
    const matches = all.filter((s) => s.id.startsWith(part));
    const [first] = matches;
    if (!first) throw new UsageError(`${where} has no backup ${part} of plan "${planName}"`);
    if (matches.length > 1) {
      throw new UsageError(
        `--snapshot ${part} is ambiguous in ${where}: ${matches.map((s) => s.shortId).join(", ")}`,
      );
    }
    for (const s of sameRun(all, first)) picked.set(s.id, s);
  }
  if (picked.size === 0) throw new UsageError(`--snapshot: no snapshot id given`);
  return [...picked.values()];
}

/** What to restore where; refuses includes the backup does not hold. */
export function planRestore(
  snapshots: KopiaSnapshot[],
  dir: string,
  include: readonly string[],
  planName: string,
): RestoreStep[] {
  const target = resolve(dir);
  if (include.length === 0) {
    return snapshots.map((s) => ({ source: s.id, dest: join(target, s.manifest.source.path) }));
  }
  const steps: RestoreStep[] = [];
  const missing: string[] = [];
  for (const raw of include) {
    if (!isAbsolute(raw))
      throw new UsageError(`--path ${raw}: must be an absolute path as it was backed up`);
    const p = normalizePath(raw);
    // The deepest source holding p (sources may nest).
    const holder = snapshots
      .filter((s) => within(p, s.manifest.source.path))
      .sort((a, b) => b.manifest.source.path.length - a.manifest.source.path.length)[0];
    if (!holder) {
      missing.push(raw);
      continue;
    }
    const rel = posix.relative(holder.manifest.source.path, p);
    steps.push({ source: rel ? `${holder.id}/${rel}` : holder.id, dest: join(target, p) });
  }
  if (missing.length > 0) {
    const holds = snapshots.map((s) => s.manifest.source.path).join(", ");
    throw new UsageError(
      `${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not in backup ${snapshots.map((s) => s.shortId).join(",")} of plan "${planName}" (it holds ${holds})`,
    );
  }
  return steps;
}

/**
 * Without --overwrite, a destination that exists (a file, or a non-empty directory) is
 * refused before anything is written. kopia's own --no-overwrite-files would stop at the
 * first existing file with part of the restore already done; it stays on as a second guard.
 */
export function conflicts(steps: readonly RestoreStep[]): string[] {
  const found: string[] = [];
  for (const s of steps) {
    const st = lstatOrUndefined(s.dest);
    if (!st) continue;
    if (!st.isDirectory() || hasEntries(s.dest)) found.push(s.dest);
  }
  return found;
}

export function restoreArgs(step: RestoreStep, overwrite: boolean): string[] {
  const args = ["restore", step.source, step.dest];
  if (!overwrite) args.push("--no-overwrite-files", "--no-overwrite-symlinks");
  return args;
}

export async function restore(req: RestoreRequest): Promise<RestorePlan> {
  const dir = resolve(req.dir);
  const st = lstatOrUndefined(dir);
  if (st && !st.isDirectory()) throw new UsageError(`--target ${dir}: is not a directory`);
  const all = await listSnapshots(req.target, { ...req, planName: req.planName });
  const snapshots = resolveSnapshots(all, req.planName, req.snapshot, req.target.repoName);
  const steps = planRestore(snapshots, dir, req.include, req.planName);
  if (!req.overwrite) {
    const found = conflicts(steps);
    if (found.length > 0) {
      const shown = found.slice(0, SHOWN_CONFLICTS);
      const more = found.length > shown.length ? `, … (${found.length} in all)` : "";
      throw new UsageError(
        `restore into ${dir} would overwrite what exists at ${shown.join(", ")}${more}`,
        {
          hint: "pass --overwrite to replace it, or restore into an empty directory",
        },
      );
    }
  }
  for (const step of steps) {
    await runKopia(req.target, restoreArgs(step, req.overwrite), { ...req, action: "restore" });
  }
  return { snapshots, steps };
}

function within(path: string, dir: string): boolean {
  return path === dir || dir === "/" || path.startsWith(`${dir}/`);
}

function hasEntries(dir: string): boolean {
  try {
    return readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}
