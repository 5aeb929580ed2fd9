import type { EngineSnapshot, ForgetReport, KeepRules, RetainedSnapshot } from "../types.js";
import { resticRepository, runRestic, type ResticOptions, type ResticTarget } from "./command.js";
import { UsageError } from "../../errors.js";
import { parsedOutput, ResticError } from "./errors.js";
import { planTag, toSnapshot } from "./snapshots.js";

export interface ForgetOptions extends ResticOptions {
  planName: string;
  /** Only this host's backups of the plan are considered. */
  host: string;
  rules: KeepRules;
  /** Report what would be removed; remove nothing. */
  dryRun: boolean;
  /** Select by these tags (all must match) instead of the plan's tag: a database's dumps. */
  tags?: readonly string[];
  /** The plan's extra_args.forget. */
  extraArgs?: readonly string[];
}

const FLAGS: [keyof KeepRules, string][] = [
  ["last", "--keep-last"],
  ["hourly", "--keep-hourly"],
  ["daily", "--keep-daily"],
  ["weekly", "--keep-weekly"],
  ["monthly", "--keep-monthly"],
  ["yearly", "--keep-yearly"],
  ["within", "--keep-within"],
];

/** Whether the rules keep anything in particular (no rule at all must never reach restic). */
export function hasKeepRules(rules: KeepRules): boolean {
  return FLAGS.some(([k]) => {
    const v = rules[k];
    return typeof v === "number" ? v > 0 : typeof v === "string" && v.length > 0;
  });
}

/**
 * `restic forget` scoped to one plan on one host: `--tag plan:<name>` and `--host` select the
 * backups, and `--group-by host` makes them ONE group. restic's default grouping (host,paths)
 * — or grouping by tags — would start a new group whenever a plan's sources or tags change,
 * and every group keeps its own `keep_last` etc., so old variants would be kept forever.
 * A count of 0 is left out: it means "no such rule" in the config.
 */
export function forgetArgs(
  options: Pick<ForgetOptions, "planName" | "host" | "rules" | "dryRun" | "tags">,
): string[] {
  if (!hasKeepRules(options.rules)) {
    throw new Error("internal: forget without a keep rule would remove every backup of the plan");
  }
  const within = options.rules.within;
  if (within !== undefined && within !== "" && !/^(\d+[ymdh])+$/.test(within)) {
    // restic's grammar: y years, m MONTHS, d days, h hours; it would reject "1w" after locking.
    throw new UsageError(
      `plans.${options.planName}.retention.keep_within = "${within}": restic understands only y (years), m (months), d (days) and h (hours), e.g. 30d or 1y6m`,
    );
  }
  const args = [
    "forget",
    "--json",
    `--tag=${(options.tags ?? [planTag(options.planName)]).join(",")}`,
    `--host=${options.host}`,
    "--group-by=host",
  ];
  for (const [key, flag] of FLAGS) {
    const v = options.rules[key];
    if (typeof v === "number" && v > 0) args.push(`${flag}=${v}`);
    if (typeof v === "string" && v.length > 0) args.push(`${flag}=${v}`);
  }
  // A dry run without a lock: it must not wait for, or stop, a backup running meanwhile.
  if (options.dryRun) args.push("--dry-run", "--no-lock");
  return args;
}

/**
 * A server that refuses to delete (rest-server --append-only, a write-only S3 credential):
 * restic 0.14 says "Remove(<snapshot/…>) returned error, retrying …: 403 Forbidden (403)",
 * 0.18 "Remove(<snapshot/…>) failed: unexpected HTTP response (403): 403 Forbidden".
 */
const DELETE_REFUSED = /Remove\(<snapshot\/[0-9a-f]+>\).*\b403\b/;

const WHERE_RETENTION_RUNS =
  "retention must run where the server allows deletes (on the server itself, or with a credential that may delete)";

/** `append_only = true`: snapback never asks this repository to delete anything. */
function refuseAppendOnly(target: ResticTarget): void {
  const repo = resticRepository(target);
  if (repo.append_only !== true) return;
  throw new ResticError(
    "other",
    target.repoName,
    `repository "${target.repoName}" is append-only (repositories.${target.repoName}.append_only = true): nothing was removed; ${WHERE_RETENTION_RUNS}`,
    { exitCode: 1 },
  );
}

function deletesRefused(target: ResticTarget): ResticError {
  return new ResticError(
    "other",
    target.repoName,
    `repository "${target.repoName}" refused to delete a snapshot (HTTP 403: an append-only server?); restic was stopped at the first refusal; ${WHERE_RETENTION_RUNS}, or set repositories.${target.repoName}.append_only = true to skip retention here`,
    { exitCode: 1 },
  );
}

/** Applies the plan's keep rules to its backups on this host; returns what was (or would be) kept and removed. */
export async function forget(target: ResticTarget, options: ForgetOptions): Promise<ForgetReport> {
  if (!options.dryRun) refuseAppendOnly(target);
  const refused = new AbortController();
  let refusal: string | undefined;
  let r: Awaited<ReturnType<typeof runRestic>>;
  try {
    r = await runRestic(target, forgetArgs(options), {
      ...options,
      action: "forget",
      signal: options.signal ? AbortSignal.any([options.signal, refused.signal]) : refused.signal,
      onStderrLine: (line) => {
        if (refusal === undefined && DELETE_REFUSED.test(line)) {
          refusal = line.trim();
          refused.abort();
        }
      },
    });
  } catch (e) {
    if (refusal !== undefined && options.signal?.aborted !== true) throw deletesRefused(target);
    throw e;
  }
  // restic 0.18 reports every refused removal, then carries on and exits 0 as if it had
  // forgotten them (and runs prune with --prune): its word cannot be trusted here.
  if (refusal !== undefined) throw deletesRefused(target);
  return parsedOutput(target.repoName, "forget", () => parseForgetOutput(r.stdout));
}

/** `restic prune`: deletes the data no snapshot references any more. Repository-wide. */
export async function prune(target: ResticTarget, options: ResticOptions = {}): Promise<void> {
  refuseAppendOnly(target);
  await runRestic(target, ["prune"], { ...options, action: "prune" });
}

/**
 * Parses `restic forget --json`: an array of groups {keep, remove, reasons}. restic 0.14's
 * reasons carry the snapshot WITHOUT its id, so a reason is matched to a kept snapshot by id
 * when present (newer versions), else by time and tree. Unknown fields are ignored; a group
 * without keep/remove lists contributes nothing. Non-JSON lines before the document (some
 * versions print notes on stdout) are skipped.
 */
export function parseForgetOutput(stdout: string): ForgetReport {
  const data = parseDocument(stdout);
  const report: ForgetReport = { keep: [], remove: [] };
  if (data === null) return report;
  if (!Array.isArray(data)) throw new Error("not a JSON array");
  for (const group of data as unknown[]) {
    if (group === null || typeof group !== "object") continue;
    const g = group as Record<string, unknown>;
    const reasons = Array.isArray(g["reasons"]) ? (g["reasons"] as unknown[]) : [];
    for (const item of list(g["keep"])) {
      const s = toSnapshot(item);
      if (s) report.keep.push({ ...s, reasons: reasonsFor(item, s, reasons) });
    }
    for (const item of list(g["remove"])) {
      const s = toSnapshot(item);
      if (s) report.remove.push({ ...s, reasons: [] });
    }
  }
  const byTime = (a: RetainedSnapshot, b: RetainedSnapshot): number => a.time.localeCompare(b.time);
  report.keep.sort(byTime);
  report.remove.sort(byTime);
  return report;
}

function parseDocument(stdout: string): unknown {
  const text = stdout.trim();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    const start = text.search(/^\[/m);
    if (start < 0) throw new Error("no JSON array in the output");
    const rest = text.slice(start);
    try {
      return JSON.parse(rest);
    } catch {
      return JSON.parse(rest.split("\n")[0] ?? "");
    }
  }
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? (v as unknown[]) : [];
}

function reasonsFor(item: unknown, snapshot: EngineSnapshot, reasons: unknown[]): string[] {
  const tree = field(item, "tree");
  const time = field(item, "time");
  for (const r of reasons) {
    if (r === null || typeof r !== "object") continue;
    const o = r as Record<string, unknown>;
    const s = o["snapshot"];
    const id = field(s, "id");
    const same =
      id !== undefined
        ? id === snapshot.id
        : field(s, "time") === time && field(s, "tree") === tree;
    if (!same) continue;
    return list(o["matches"]).filter((m): m is string => typeof m === "string");
  }
  return [];
}

function field(o: unknown, key: string): string | undefined {
  if (o === null || typeof o !== "object") return undefined;
  const v = (o as Record<string, unknown>)[key];
  return typeof v === "string" ? v : undefined;
}
