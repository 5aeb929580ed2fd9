import { UsageError } from "../../errors.js";
import type { RepositoryCheckReport } from "../types.js";
import { failure, runKopia, type KopiaOptions, type KopiaTarget } from "./command.js";
import { mainLine } from "./errors.js";
import { listSnapshots } from "./snapshots.js";

export interface CheckRequest extends KopiaOptions {
  /** restic's --read-data subset; kopia reads back a random percentage of files: "all", "N%" or "1/N". */
  readData?: string;
  /** Only the sources of this plan's backups (default: every source in the repository). */
  planName?: string;
}

/** `--verify-files-percent` for a --read-data subset kopia can honour. */
export function verifyPercent(readData: string | undefined): number {
  if (readData === undefined) return 0;
  const s = readData.trim();
  if (s === "all") return 100;
  let m = /^(\d+(?:\.\d+)?)%$/.exec(s);
  if (m?.[1]) {
    const n = Number(m[1]);
    if (n > 0 && n <= 100) return n;
  }
  m = /^(\d+)\/(\d+)$/.exec(s);
  if (m?.[1] && m[2]) {
    const n = Number(m[1]);
    const of = Number(m[2]);
    if (n >= 1 && of >= 1 && n <= of) return Math.round(10000 / of) / 100;
  }
  throw new UsageError(
    `--read-data ${readData}: kopia reads back a share of the files: use "all", a percentage ("10%") or "1/N"`,
  );
}

/** The source of a snapshot in the form `kopia snapshot verify --sources` accepts for any user@host. */
export function sourceArg(s: { host: string; userName: string; path: string }): string {
  return s.host || s.userName ? `${s.userName}@${s.host}:${s.path}` : s.path;
}

/**
 * `kopia snapshot verify` over the sources of the repository's (or a plan's) snapshots: every
 * directory and file object is checked to exist, and a share of the files is read back.
 * Sources are named explicitly because kopia before 0.15 verifies nothing without them.
 */
export async function check(
  target: KopiaTarget,
  req: CheckRequest = {},
): Promise<RepositoryCheckReport & { sources: string[] }> {
  const percent = verifyPercent(req.readData);
  const snaps = await listSnapshots(target, {
    ...req,
    ...(req.planName === undefined ? {} : { planName: req.planName }),
  });
  const sources = [...new Set(snaps.map((s) => sourceArg(s.manifest.source)))].sort();
  const base = { ...(req.readData === undefined ? {} : { readData: req.readData }), sources };
  if (sources.length === 0) return { ok: true, errors: [], ...base };
  const args = [
    "snapshot",
    "verify",
    `--verify-files-percent=${percent}`,
    ...sources.map((s) => `--sources=${s}`),
  ];
  const errors: string[] = [];
  const onStderrLine = (line: string): void => {
    const t = line.trim().replace(/^(?:\d\d:\d\d:\d\d(?:\.\d+)?\s+)?(?:ERROR|WARN)\s+/, "");
    // The closing "encountered N errors" only counts what the lines before it said.
    if (/^encountered \d+ errors/i.test(t)) return;
    if (/failed on |error verifying|error reading|unable to/i.test(t)) errors.push(t);
  };

  const r = await runKopia(target, args, {
    ...req,
    action: "snapshot verify",
    okExitCodes: [0, 1],
    onStderrLine,
  });
  if (r.exitCode === 0) return { ok: true, errors: [], ...base };
  const f = failure(target, "snapshot verify", r);
  // The repository itself could not be opened: not a verdict about the data.
  if (f.kind !== "other") throw f;
  const detail = mainLine(r.stderr);
  return {
    ok: false,
    errors: errors.length > 0 ? errors : [detail || "kopia snapshot verify failed"],
    ...base,
  };
}
