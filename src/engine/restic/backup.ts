import { readdir } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { UsageError } from "../../errors.js";
import { resticExcludeArgs } from "../../ignore/index.js";
import type { BackupProgress, BackupRequest, BackupSummary } from "../types.js";
import { runRestic } from "./command.js";
import { probeRestic } from "./binary.js";
import { ResticError } from "./errors.js";
import { planBackupTuningArgs } from "./tuning.js";
import { parseBackupLine, type StatusMessage, type SummaryMessage } from "./messages.js";
import { listTargetSnapshots, planTag } from "./snapshots.js";

export interface BackupOptions {
  /** RESTIC_CACHE_DIR (the request's env may still move it into the view). */
  cacheDir: string;
  resticPath?: string;
  killGraceMs?: number;
  /** Status lines per second restic prints (RESTIC_PROGRESS_FPS). */
  progressFps?: number;
}

/** Messages kept for the summary; every error still counts and reaches onWarning. */
const MAX_KEPT_ERRORS = 1000;

/**
 * The argv of `restic backup` for a request. Only the original paths are given, so restic
 * records them and finds the parent snapshot by host and paths; nothing secret is here.
 */
export function backupArgs(
  req: Pick<
    BackupRequest,
    "plan" | "planName" | "host" | "paths" | "extraExcludes" | "excludeFile"
  >,
): string[] {
  const { plan } = req;
  const args = ["backup", "--json", `--host=${req.host}`];
  for (const tag of plan.tags) args.push(`--tag=${tag}`);
  args.push(`--tag=${planTag(req.planName)}`);
  // "--flag=value": a pattern starting with "-" must not be read as a flag.
  if (req.excludeFile === undefined) {
    for (const p of [...plan.exclude, ...req.extraExcludes]) args.push(`--exclude=${p}`);
  }
  args.push(
    ...resticExcludeArgs({
      ...(req.excludeFile === undefined ? {} : { excludeFile: req.excludeFile }),
      excludeIfPresent: plan.exclude_if_present,
      excludeCaches: plan.exclude_caches,
      ...(plan.exclude_larger_than === undefined
        ? {}
        : { excludeLargerThan: plan.exclude_larger_than }),
    }),
  );
  if (plan.one_file_system) args.push("--one-file-system");
  // Checked against the binary's version by backup() before restic runs.
  if (plan.read_concurrency !== undefined) {
    args.push(`--read-concurrency=${plan.read_concurrency}`);
  }
  // The user's flags come last, so where restic takes the last value theirs wins.
  args.push(...(plan.extra_args?.backup ?? []));
  args.push("--", ...req.paths);
  return args;
}

/**
 * Runs one backup inside the request's view. Exit 0 is success, exit 3 a saved snapshot
 * with unreadable files (errorCount > 0); anything else throws a classified ResticError.
 */
export async function backup(req: BackupRequest, options: BackupOptions): Promise<BackupSummary> {
  if (req.paths.length === 0) {
    throw new UsageError(`plan "${req.planName}": nothing to back up (no source paths)`);
  }
  let summary: SummaryMessage | undefined;
  let lastStatus: StatusMessage | undefined;
  let errorCount = 0;
  const errors: string[] = [];

  const onLine = (line: string): void => {
    const msg = parseBackupLine(line);
    if (!msg) return;
    switch (msg.type) {
      case "status":
        lastStatus = msg;
        req.onProgress(toProgress(req.repoName, msg));
        return;
      case "summary":
        summary = msg;
        return;
      case "error": {
        errorCount++;
        const text = msg.item ? `${msg.item}: ${msg.message}` : msg.message;
        if (errors.length < MAX_KEPT_ERRORS) errors.push(text);
        req.onWarning(text);
        return;
      }
      default:
        // verbose_status, exit_error (classified from stderr on failure), plain log lines.
        return;
    }
  };

  planBackupTuningArgs(req.planName, req.plan, await probeRestic(options.resticPath));
  const result = await runRestic(req, backupArgs(req), {
    action: "backup",
    ...(options.resticPath === undefined ? {} : { resticPath: options.resticPath }),
    cacheDir: options.cacheDir,
    env: req.env,
    signal: req.signal,
    killGraceMs: options.killGraceMs ?? 120_000,
    progressFps: options.progressFps ?? 2,
    okExitCodes: [0, 3],
    wrap: req.wrap,
    // 0.14 prints error messages on stderr, newer versions too: read both streams.
    onStdoutLine: onLine,
    onStderrLine: onLine,
  });

  const found = summary;
  if (found?.snapshotId === undefined) {
    throw new ResticError(
      "other",
      req.repoName,
      `restic backup for repository "${req.repoName}" exited ${result.exitCode ?? "?"} without reporting a snapshot`,
      { stderrTail: result.stderr.trim().split("\n").slice(-10).join("\n") },
    );
  }
  if (result.exitCode === 3) errorCount = Math.max(errorCount, lastStatus?.errorCount ?? 0, 1);
  return {
    snapshotId: await fullSnapshotId(req, found.snapshotId, options),
    filesNew: found.filesNew,
    filesChanged: found.filesChanged,
    filesUnmodified: found.filesUnmodified,
    dirsNew: found.dirsNew,
    dirsChanged: found.dirsChanged,
    dirsUnmodified: found.dirsUnmodified,
    dataBlobs: found.dataBlobs,
    treeBlobs: found.treeBlobs,
    dataAdded: found.dataAdded,
    totalFilesProcessed: found.totalFilesProcessed,
    totalBytesProcessed: found.totalBytesProcessed,
    durationS: found.totalDuration,
    errorCount,
    errors,
  };
}

/** restic's `percent_done` is already a fraction 0–1: kept as one, only clamped. */
export function toProgress(repository: string, s: StatusMessage): BackupProgress {
  return {
    repository,
    fraction: Math.min(1, Math.max(0, s.percentDone)),
    filesDone: s.filesDone,
    totalFiles: s.totalFiles,
    bytesDone: s.bytesDone,
    totalBytes: s.totalBytes,
    secondsElapsed: s.secondsElapsed,
    secondsRemaining: s.secondsRemaining,
    currentFiles: s.currentFiles,
  };
}

/**
 * restic 0.14 reports the 8-character short id; the history and `snapshots` use full ids.
 * The snapshot exists either way, so a failed lookup keeps the short id instead of failing.
 * It runs outside the view, so without the view's environment.
 */
async function fullSnapshotId(
  req: BackupRequest,
  id: string,
  options: BackupOptions,
): Promise<string> {
  if (id.length === 64) return id;
  const local = await fullIdFromLocalRepository(req, id);
  if (local !== undefined) return local;
  try {
    const found = await listTargetSnapshots(req, {
      ids: [id],
      noLock: true,
      cacheDir: options.cacheDir,
      ...(options.resticPath === undefined ? {} : { resticPath: options.resticPath }),
    });
    return found.find((s) => s.id.startsWith(id))?.id ?? id;
  } catch {
    req.onWarning(`repository "${req.repoName}": could not look up the full id of snapshot ${id}`);
    return id;
  }
}

/**
 * A local repository names every snapshot file by its full id: reading that directory costs
 * microseconds, where asking restic costs a repository open (key derivation, ~0.5 s).
 */
async function fullIdFromLocalRepository(
  req: BackupRequest,
  id: string,
): Promise<string | undefined> {
  if (req.repo.engine !== "restic") return undefined;
  const url = req.repo.url.startsWith("local:")
    ? req.repo.url.slice("local:".length)
    : req.repo.url;
  if (!isAbsolute(url)) return undefined;
  try {
    const matches = (await readdir(join(url, "snapshots"))).filter((n) => n.startsWith(id));
    return matches.length === 1 && /^[0-9a-f]{64}$/.test(matches[0] ?? "") ? matches[0] : undefined;
  } catch {
    return undefined;
  }
}
