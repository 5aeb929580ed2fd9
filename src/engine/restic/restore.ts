import { lstatSync, readdirSync, type Stats } from "node:fs";
import { isAbsolute, join, posix, resolve } from "node:path";
import type { Repository } from "../../config/schema.js";
import type { RepositorySecrets } from "../../config/secrets.js";
import { UsageError } from "../../errors.js";
import type { EngineSnapshot } from "../types.js";
import { probeRestic, versionAtLeast } from "./binary.js";
import { resticBinaryOf, runRestic, type ResticOptions, type ResticTarget } from "./command.js";
import { parseObject } from "./messages.js";
import { listTargetSnapshots } from "./snapshots.js";

export interface RestoreRequest extends ResticOptions {
  planName: string;
  repoName: string;
  repo: Repository;
  secrets: RepositorySecrets;
  /** A snapshot id or id prefix of this plan, or "latest" (the plan's newest backup). */
  snapshot: string;
  /** Restored files land at <target>/<original absolute path>. */
  target: string;
  /** Original absolute paths to restore; default everything. */
  include?: string[];
  /** Replace existing files; without it a restore that would replace one is refused. */
  overwrite: boolean;
  /** With overwrite: only files the backup holds a newer copy of (by mtime). */
  ifNewer?: boolean;
  /** The plan's extra_args.restore: for `restic restore` only, not the lookups before it. */
  restoreExtraArgs?: readonly string[];
}

export interface RestoreResult {
  snapshot: EngineSnapshot;
  target: string;
}

/** Conflicting files named in the refusal. */
const SHOWN_CONFLICTS = 5;

/** restic 0.14 gets one --exclude per kept file: beyond this the argv would grow too long. */
const MAX_KEPT = 2000;

/** A literal path as a restic filter pattern (`*`, `?`, `[` and `\` are pattern syntax). */
export function globEscape(path: string): string {
  return path.replace(/[\\*?[\]]/g, "\\$&");
}

/**
 * Restores a plan's backup. restic 0.14 silently replaces existing files, so unless
 * `overwrite` is set the snapshot's listing is checked against the target first and the
 * restore is refused before anything is written.
 */
export async function restore(req: RestoreRequest): Promise<RestoreResult> {
  const target = resolve(req.target);
  const includes = (req.include ?? []).map((p) => normalizeInclude(p));
  checkTarget(target);
  const snapshot = await resolveSnapshot(req, req.planName, req.snapshot, req);

  const mustCheck = !req.overwrite && hasEntries(target);
  const ifNewer = req.overwrite && req.ifNewer === true && hasEntries(target);
  let keep: string[] = [];
  let entries: string[] = [];
  if (mustCheck || ifNewer || includes.length > 0) {
    const scan = await scanSnapshot(req, snapshot, target, includes, mustCheck, req, ifNewer);
    keep = scan.keep;
    entries = scan.entries;
    const missing = includes.filter((i) => !scan.matched.has(i));
    if (missing.length > 0) {
      throw new UsageError(
        `${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not in backup ${snapshot.shortId} of plan "${req.planName}" (it holds ${snapshot.paths.join(", ")})`,
      );
    }
    if (scan.conflicts > 0) {
      const more = scan.conflicts > scan.examples.length ? `, … (${scan.conflicts} in all)` : "";
      throw new UsageError(
        `restore into ${target} would overwrite ${scan.conflicts} existing file${scan.conflicts === 1 ? "" : "s"}: ${scan.examples.join(", ")}${more}`,
        { hint: "pass --overwrite to replace them, or restore into an empty directory" },
      );
    }
  }

  const binary = await probeRestic(
    req.repo.engine === "restic" ? resticBinaryOf(req.repo, req) : req.resticPath,
  );
  const args = ["restore", snapshot.id, `--target=${target}`];
  const old = !versionAtLeast(binary.semver, 0, 17);
  if (old && keep.length > 0 && includes.length > 0) {
    // 0.14 refuses --exclude beside --include: name every entry to restore instead.
    const kept = new Set(keep);
    const restored = entries.filter((e) => !kept.has(e));
    if (restored.length > MAX_KEPT)
      throw new UsageError(
        `restore into ${target}: keeping ${keep.length} newer files means naming ${restored.length} entries one by one, too many for this restic (${binary.version})`,
        { hint: "restore into an empty directory, or use restic >= 0.17 (restic_binary)" },
      );
    if (restored.length === 0) return { snapshot, target };
    for (const e of restored) args.push(`--include=${globEscape(e)}`);
    keep = [];
  } else for (const i of includes) args.push(`--include=${i}`);
  // 0.17+ can itself refuse to replace files: a second guard against files created meanwhile,
  // and it compares the times itself for if-newer.
  if (versionAtLeast(binary.semver, 0, 17)) {
    args.push(`--overwrite=${!req.overwrite ? "never" : req.ifNewer ? "if-newer" : "always"}`);
  } else if (old && keep.length > 0) {
    // 0.14 replaces whatever it restores: the files to keep are left out by exact path.
    if (keep.length > MAX_KEPT)
      throw new UsageError(
        `restore into ${target}: ${keep.length} existing files are newer than the backup's copies, too many to leave out one by one with this restic (${binary.version})`,
        { hint: "restore into an empty directory, or use restic >= 0.17 (restic_binary)" },
      );
    for (const k of keep) args.push(`--exclude=${globEscape(k)}`);
  }
  await runRestic(req, args, {
    ...req,
    action: "restore",
    ...(req.restoreExtraArgs === undefined ? {} : { extraArgs: req.restoreExtraArgs }),
  });
  return { snapshot, target };
}

/** The snapshot of `planName` that `ref` names: "latest", a full id or a unique prefix. */
export async function resolveSnapshot(
  target: ResticTarget,
  planName: string,
  ref: string,
  options: ResticOptions = {},
): Promise<EngineSnapshot> {
  const snapshots = await listTargetSnapshots(target, { ...options, planName });
  const where = `repository "${target.repoName}"`;
  if (ref === "latest") {
    const latest = snapshots.at(-1);
    if (!latest) throw new UsageError(`plan "${planName}" has no backup in ${where}`);
    return latest;
  }
  if (!/^[0-9a-f]{1,64}$/.test(ref)) {
    throw new UsageError(`--snapshot ${ref}: not a snapshot id (hex digits) nor "latest"`);
  }
  const matches = snapshots.filter((s) => s.id.startsWith(ref));
  const [first] = matches;
  if (!first) throw new UsageError(`${where} has no backup ${ref} of plan "${planName}"`);
  if (matches.length > 1) {
    throw new UsageError(
      `--snapshot ${ref} is ambiguous in ${where}: ${matches.map((s) => s.shortId).join(", ")}`,
    );
  }
  return first;
}

function normalizeInclude(p: string): string {
  if (!isAbsolute(p)) {
    throw new UsageError(`--path ${p}: must be an absolute path as it was backed up`);
  }
  const n = posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, "") : n;
}

function checkTarget(target: string): void {
  const st = lstatOrUndefined(target);
  if (st && !st.isDirectory()) throw new UsageError(`--target ${target}: is not a directory`);
}

function hasEntries(dir: string): boolean {
  try {
    return readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}

interface Scan {
  conflicts: number;
  examples: string[];
  matched: Set<string>;
  /** if-newer: files (original paths) whose copy in the target is not older than the backup's. */
  keep: string[];
  /** if-newer: every non-directory entry the restore covers (original paths). */
  entries: string[];
}

/**
 * Streams `restic ls --json` of the snapshot: which includes exist in it and which restored
 * entries would replace something in the target. A directory may exist already (restic
 * restores into it); anything else existing is a conflict.
 */
async function scanSnapshot(
  target: ResticTarget,
  snapshot: EngineSnapshot,
  dir: string,
  includes: string[],
  checkConflicts: boolean,
  options: ResticOptions,
  compareTimes = false,
): Promise<Scan> {
  const scan: Scan = { conflicts: 0, examples: [], matched: new Set(), keep: [], entries: [] };
  const onLine = (line: string): void => {
    const node = parseLsNode(line);
    if (!node) return;
    let relevant = includes.length === 0;
    for (const inc of includes) {
      if (within(node.path, inc)) {
        scan.matched.add(inc);
        relevant = true;
      } else if (node.type === "dir" && within(inc, node.path)) {
        relevant = true;
      }
    }
    if (!relevant) return;
    if (compareTimes && node.type !== "dir") scan.entries.push(node.path);
    if (compareTimes && node.type === "file" && node.mtime !== undefined) {
      const existing = lstatOrUndefined(join(dir, node.path));
      // Whole seconds: restic stores nanoseconds, some filesystems keep less.
      if (
        existing &&
        Math.floor(existing.mtimeMs / 1000) >= Math.floor(Date.parse(node.mtime) / 1000)
      )
        scan.keep.push(node.path);
    }
    if (!checkConflicts) return;
    const dest = join(dir, node.path);
    const st = lstatOrUndefined(dest);
    if (!st || (node.type === "dir" && st.isDirectory())) return;
    scan.conflicts++;
    if (scan.examples.length < SHOWN_CONFLICTS) scan.examples.push(dest);
  };
  await runRestic(target, ["ls", "--json", snapshot.id], {
    ...options,
    action: "ls",
    onStdoutLine: onLine,
  });
  return scan;
}

function within(path: string, dir: string): boolean {
  return path === dir || dir === "/" || path.startsWith(`${dir}/`);
}

/** A node line of `restic ls --json` (0.14: struct_type; 0.17+: message_type too). */
export function parseLsNode(
  line: string,
): { path: string; type: string; mtime?: string } | undefined {
  const o = parseObject(line);
  if (o === undefined) return undefined;
  const kind = o["message_type"] ?? o["struct_type"];
  if (kind !== "node" || typeof o["path"] !== "string" || typeof o["type"] !== "string") {
    return undefined;
  }
  return {
    path: o["path"],
    type: o["type"],
    ...(typeof o["mtime"] === "string" ? { mtime: o["mtime"] } : {}),
  };
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}
