import { lstatSync, readdirSync, type Stats } from "node:fs";
import { isAbsolute, join, posix, resolve } from "node:path";
import type { Repository } from "../../config/schema.js";
import type { RepositorySecrets } from "../../config/secrets.js";
import { UsageError } from "../../errors.js";
import type { EngineSnapshot } from "../types.js";
import { probeRestic, versionAtLeast } from "./binary.js";
import { resticBinaryOf, runRestic, type ResticOptions, type ResticTarget } from "./command.js";
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
  /** The plan's extra_args.restore: for `restic restore` only, not the lookups before it. */
  restoreExtraArgs?: readonly string[];
}

export interface RestoreResult {
  snapshot: EngineSnapshot;
  target: string;
}

/** Conflicting files named in the refusal. */
const SHOWN_CONFLICTS = 5;

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
  if (mustCheck || includes.length > 0) {
    const scan = await scanSnapshot(req, snapshot, target, includes, mustCheck, req);
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
  for (const i of includes) args.push(`--include=${i}`);
  // 0.17+ can itself refuse to replace files: a second guard against files created meanwhile.
  if (versionAtLeast(binary.semver, 0, 17)) {
    args.push(`--overwrite=${req.overwrite ? "always" : "never"}`);
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
): Promise<Scan> {
  const scan: Scan = { conflicts: 0, examples: [], matched: new Set() };
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
    if (!relevant || !checkConflicts) return;
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
export function parseLsNode(line: string): { path: string; type: string } | undefined {
  if (!line.startsWith("{")) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (v === null || typeof v !== "object") return undefined;
  const o = v as Record<string, unknown>;
  const kind = o["message_type"] ?? o["struct_type"];
  if (kind !== "node" || typeof o["path"] !== "string" || typeof o["type"] !== "string") {
    return undefined;
  }
  return { path: o["path"], type: o["type"] };
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}
