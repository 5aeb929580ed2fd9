import { randomBytes } from "node:crypto";
import { UsageError } from "../../errors.js";
import type { BackupRequest, BackupSummary } from "../types.js";
import { failure, runKopia, type KopiaOptions } from "./command.js";
import { manifestErrorCount, parseManifests, type KopiaManifest } from "./messages.js";
import { planKeepRules, policyCommands } from "./policy.js";
import { backupTags } from "./tags.js";

/** Messages kept for the summary; every error still counts and reaches onWarning. */
const MAX_KEPT_ERRORS = 1000;

/** A fresh id for the run tag that groups one backup's snapshots (one per source). */
export function newRunId(): string {
  return `${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
}

export function backupDescription(planName: string): string {
  return `snapback plan ${planName}`;
}

/**
 * The argv of `kopia snapshot create` (after the global --config-file). Only the original
 * paths are given: in the view the snapshot IS at the original path, so kopia records that
 * path as the source and finds its previous snapshot there (no --override-source, which
 * kopia 0.14+ has for snapshotting a path other than the one recorded). Nothing secret here.
 */
export function snapshotCreateArgs(
  req: Pick<BackupRequest, "planName" | "plan" | "paths">,
  runId: string,
): string[] {
  const args = [
    "snapshot",
    "create",
    "--json",
    // Without it kopia strips "stats" (file counts, cached/non-cached) from the JSON.
    "--json-verbose",
    // The progress line is rewritten with \r on stderr; errors are still printed one a line.
    "--no-progress",
    `--description=${backupDescription(req.planName)}`,
  ];
  for (const t of backupTags(req.planName, req.plan.tags, runId)) args.push(`--tags=${t}`);
  // Source paths are absolute (the config refuses others), so none can be read as a flag.
  args.push(...req.paths);
  return args;
}

/** `Error when processing "path": message` / `Ignored error when processing …` (cli_progress.go). */
export function parseProcessingError(
  line: string,
): { path: string; message: string; ignored: boolean } | undefined {
  const m = /(Ignored error|Error) when processing "(.*)": (.*)$/.exec(line.trim());
  if (!m?.[2] || m[3] === undefined) return undefined;
  return { path: m[2], message: m[3], ignored: m[1] === "Ignored error" };
}

/**
 * Runs one backup: the sources' policies first (excludes, retention), then `snapshot create`
 * inside the request's view. kopia exits 1 after saving a snapshot when files could not be
 * read: that is a partial backup (errorCount > 0), not a failure. A failure without any
 * saved snapshot throws a classified KopiaError.
 */
export async function backup(
  req: BackupRequest,
  options: KopiaOptions = {},
): Promise<BackupSummary> {
  if (req.paths.length === 0)
    throw new UsageError(`plan "${req.planName}": nothing to back up (no source paths)`);
  const runId = newRunId();
  const createArgs = snapshotCreateArgs(req, runId);
  const policy = policyCommands({
    planName: req.planName,
    plan: req.plan,
    paths: req.paths,
    extraExcludes: req.extraExcludes,
    rules: planKeepRules(req.plan),
  });
  for (const w of policy.warnings) req.onWarning(w);
  const common = { ...options, signal: req.signal };
  // Policies name paths only; they run outside the view.
  await runKopia(req, policy.clear, { ...common, action: "policy set" });
  for (const args of policy.set) await runKopia(req, args, { ...common, action: "policy set" });

  const errors: string[] = [];
  const errorPaths = new Set<string>();
  let errorCount = 0;
  const onStderrLine = (line: string): void => {
    const e = parseProcessingError(line);
    if (!e) return;
    errorCount++;
    errorPaths.add(e.path);
    const text = `${e.path}: ${e.message}`;
    if (errors.length < MAX_KEPT_ERRORS) errors.push(text);
    req.onWarning(text);
  };
  const result = await runKopia(req, createArgs, {
    ...common,
    env: { ...(options.env ?? {}), ...req.env },
    action: "snapshot create",
    okExitCodes: [0, 1],
    wrap: req.wrap,
    onStderrLine,
  });
  const manifests = parseManifests(result.stdout).filter((m) => !m.incomplete);
  if (manifests.length === 0) throw failure(req, "snapshot create", result);

  for (const m of manifests) {
    for (const e of m.summary?.errors ?? []) {
      if (errorPaths.has(e.path)) continue;
      errorPaths.add(e.path);
      const text = `${e.path}: ${e.error}`;
      if (errors.length < MAX_KEPT_ERRORS) errors.push(text);
      req.onWarning(text);
    }
  }
  const recorded = new Set(manifests.map((m) => m.source.path));
  const missing = req.paths.filter((p) => !recorded.has(p));
  for (const p of missing) {
    const text = `${p}: kopia saved no snapshot of this source`;
    errors.push(text);
    req.onWarning(text);
  }
  const counted = manifests.reduce((n, m) => n + manifestErrorCount(m), 0);
  errorCount = Math.max(errorCount, counted, errorPaths.size) + missing.length;
  if (result.exitCode !== 0) errorCount = Math.max(errorCount, 1);
  return summarize(manifests, errorCount, errors);
}

function summarize(
  manifests: KopiaManifest[],
  errorCount: number,
  errors: string[],
): BackupSummary {
  let cached = 0;
  let nonCached = 0;
  let files = 0;
  let bytes = 0;
  for (const m of manifests) {
    if (m.stats) {
      cached += m.stats.cachedFiles;
      nonCached += m.stats.nonCachedFiles;
      files += m.stats.fileCount;
      bytes += m.stats.totalSize;
    } else {
      files += m.summary?.files ?? 0;
      bytes += m.summary?.size ?? 0;
    }
  }
  const starts = manifests.map((m) => Date.parse(m.startTime)).filter((t) => !Number.isNaN(t));
  const ends = manifests.map((m) => Date.parse(m.endTime)).filter((t) => !Number.isNaN(t));
  const durationS =
    starts.length > 0 && ends.length > 0
      ? Math.max(0, (Math.max(...ends) - Math.min(...starts)) / 1000)
      : 0;
  return {
    snapshotId: manifests.map((m) => m.id).join(","),
    // kopia tells files it hashed (new or changed: it does not say which) from files whose
    // size and mtime matched the previous snapshot ("cached").
    filesNew: nonCached,
    filesChanged: 0,
    filesUnmodified: cached,
    dirsNew: 0,
    dirsChanged: 0,
    dirsUnmodified: 0,
    dataBlobs: 0,
    treeBlobs: 0,
    dataAdded: 0,
    totalFilesProcessed: files,
    totalBytesProcessed: bytes,
    durationS,
    errorCount,
    errors,
  };
}
