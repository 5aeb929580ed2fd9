import { randomInt } from "node:crypto";
import { lstat, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import type { BackupFile, RepositoryEngine } from "../engine/types.js";
import { errorMessage } from "../errors.js";
import type { ViewBind } from "../core/snapshot.js";
import { isUnder } from "../util/paths.js";
import { compareFile, type SpotFile } from "./compare.js";

/** A spot check of one plan's newest backup in one repository. */
export interface SpotReport {
  plan: string;
  repository: string;
  snapshot_id?: string;
  snapshot_time?: string;
  /** Regular files in the backup, and how many of them were sampled. */
  files_in_backup: number;
  sampled: number;
  ok: boolean;
  matched: number;
  /** Files the backup does not give back as they are in the snapshot: each one is listed. */
  mismatches: SpotFile[];
  /** Files that changed on the source since the backup (not held against it). */
  changed: SpotFile[];
  /**
   * Files sampled again, from those unchanged since the backup, because changed ones could
   * not be compared (included in `sampled`).
   */
  resampled: number;
  /** Said to the user too: e.g. that every sampled file had changed since the backup. */
  warnings: string[];
  errors: string[];
}

export interface SpotRequest {
  planName: string;
  /** Only this host's backups of the plan are sampled. */
  host: string;
  count: number;
  /** Where an original path is readable in the snapshot of the sources. */
  resolve: (path: string) => string;
  /** A directory of ours to restore below (the caller removes it). */
  tmpDir: string;
  signal: AbortSignal;
  onWarning?: (message: string) => void;
}

/**
 * Restores `count` randomly chosen files of the plan's newest backup and compares bytes,
 * mode and mtime with the same files in a snapshot of the sources. A file that changed since
 * the backup verifies nothing, so for each one that did, another file is sampled from those
 * still as the backup recorded them, until `count` files were compared or none are left.
 */
export async function spotCheck(engine: RepositoryEngine, req: SpotRequest): Promise<SpotReport> {
  const report: SpotReport = {
    plan: req.planName,
    repository: engine.repoName,
    files_in_backup: 0,
    sampled: 0,
    ok: false,
    matched: 0,
    mismatches: [],
    changed: [],
    resampled: 0,
    warnings: [],
    errors: [],
  };
  const warn = (message: string): void => {
    report.warnings.push(message);
    req.onWarning?.(message);
  };
  try {
    const backups = (await engine.snapshots(req.planName)).filter((s) => s.host === req.host);
    const newest = backups.at(-1);
    if (!newest) {
      report.errors.push(
        `plan "${req.planName}" has no backup from host ${req.host} in repository "${engine.repoName}"`,
      );
      return report;
    }
    report.snapshot_id = newest.id;
    report.snapshot_time = newest.time;
    const first = await engine.sampleFiles(newest.id, req.count, req.signal);
    report.files_in_backup = first.total;
    const what = `spot check of plan ${req.planName} in ${engine.repoName}`;
    const target = await mkdtemp(join(req.tmpDir, "spot-"));
    try {
      const tried = new Set<string>();
      // The rest of the backup in random order, listed only once a sampled file has changed.
      let rest: BackupFile[] | undefined;
      let batch = first.files;
      while (batch.length > 0) {
        for (const f of batch) tried.add(f.path);
        report.sampled += batch.length;
        await compareBatch(engine, newest.id, batch, target, req, report);
        const compared = report.matched + report.mismatches.length;
        const wanted = Math.min(req.count, first.total) - compared;
        if (wanted <= 0) break;
        if (rest === undefined) {
          rest =
            report.sampled < first.total
              ? shuffle(
                  (await engine.sampleFiles(newest.id, first.total, req.signal)).files.filter(
                    (f) => !tried.has(f.path),
                  ),
                )
              : [];
          const changed = report.changed.length;
          if (rest.length > 0)
            warn(
              `${what}: ${changed === report.sampled ? `every sampled file (${changed})` : `${changed} of ${report.sampled} sampled files`} changed since the backup; sampling again from unchanged files`,
            );
        }
        batch = [];
        while (batch.length < wanted) {
          const f = rest.pop();
          if (f === undefined) break;
          tried.add(f.path);
          // Only what the source still holds as recorded can be compared: one lstat each.
          if (await unchangedSince(f, req.resolve(f.path))) batch.push(f);
        }
        report.resampled += batch.length;
      }
      const compared = report.matched + report.mismatches.length;
      const wanted = Math.min(req.count, first.total);
      if (compared < wanted && report.changed.length > 0)
        warn(
          compared === 0
            ? `${what}: verified nothing: every file of the backup changed since it was made`
            : `${what}: only ${compared} of ${wanted} files could be compared; the others changed since the backup`,
        );
    } finally {
      await rm(target, { recursive: true, force: true });
    }
    report.ok = report.mismatches.length === 0 && report.errors.length === 0;
  } catch (e) {
    if (req.signal.aborted) throw e;
    report.errors.push(errorMessage(e));
    report.ok = false;
  }
  return report;
}

/** Restores one batch of sampled files into `target` and compares each with the snapshot. */
async function compareBatch(
  engine: RepositoryEngine,
  snapshotId: string,
  files: BackupFile[],
  target: string,
  req: SpotRequest,
  report: SpotReport,
): Promise<void> {
  const restored = await engine.restoreFiles({
    snapshotId,
    target,
    paths: files.map((f) => f.path),
    signal: req.signal,
  });
  for (const f of files) {
    const result = await compareFile(f, join(target, f.path), req.resolve(f.path), restored.errors);
    if (result.status === "ok") report.matched++;
    else if (result.status === "changed") report.changed.push(result);
    else report.mismatches.push(result);
  }
  // Errors that name none of the sampled files still mean the restore did not work.
  report.errors.push(
    ...restored.errors.filter(
      (e) => !files.some((f) => e.includes(f.path)) && !/^Fatal: There were \d+ errors/.test(e),
    ),
  );
}

async function unchangedSince(recorded: BackupFile, sourcePath: string): Promise<boolean> {
  try {
    const s = await lstat(sourcePath, { bigint: true });
    return s.isFile() && s.size === BigInt(recorded.size) && s.mtimeNs === recorded.mtimeNs;
  } catch {
    return false;
  }
}

/** Fisher–Yates, in place. */
function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [xs[i], xs[j]] = [xs[j] as T, xs[i] as T];
  }
  return xs;
}

/** Maps an original path to where it is in the snapshot: through the deepest bind that covers it. */
export function snapshotResolver(binds: readonly ViewBind[]): (path: string) => string {
  const sorted = [...binds].sort((a, b) => b.to.length - a.to.length);
  return (path) => {
    const b = sorted.find((x) => isUnder(path, x.to));
    if (!b) return path;
    return path === b.to ? b.from : join(b.from, path.slice(b.to === "/" ? 0 : b.to.length));
  };
}
