import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import type { RepositoryEngine } from "../engine/types.js";
import { errorMessage } from "../errors.js";
import type { ViewBind } from "../snapshot/types.js";
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
}

/**
 * Restores `count` randomly chosen files of the plan's newest backup and compares bytes,
 * mode and mtime with the same files in a snapshot of the sources.
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
    errors: [],
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
    const { files, total } = await engine.sampleFiles(newest.id, req.count, req.signal);
    report.files_in_backup = total;
    report.sampled = files.length;
    if (files.length === 0) {
      report.ok = true;
      return report;
    }
    const target = await mkdtemp(join(req.tmpDir, "spot-"));
    try {
      const restored = await engine.restoreFiles({
        snapshotId: newest.id,
        target,
        paths: files.map((f) => f.path),
        signal: req.signal,
      });
      for (const f of files) {
        const result = await compareFile(
          f,
          join(target, f.path),
          req.resolve(f.path),
          restored.errors,
        );
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

/** Maps an original path to where it is in the snapshot: through the deepest bind that covers it. */
export function snapshotResolver(binds: readonly ViewBind[]): (path: string) => string {
  const sorted = [...binds].sort((a, b) => b.to.length - a.to.length);
  return (path) => {
    const b = sorted.find((x) => isUnder(path, x.to));
    if (!b) return path;
    return path === b.to ? b.from : join(b.from, path.slice(b.to === "/" ? 0 : b.to.length));
  };
}
