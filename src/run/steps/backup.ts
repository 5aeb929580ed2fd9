import type { BackupSummary } from "../../engine/types.js";
import { join } from "node:path";
import { churnWarning, DeviceIdMemory } from "../engine-report.js";
import type { SummaryEvent } from "../../core/events.js";
import { progressEvent } from "../progress.js";
import { throwIfAborted } from "./abort.js";
import type { RepositoryStep } from "./each-repository.js";
import { round } from "./snapshots.js";
import type { RunState } from "./types.js";
import type { View } from "./view.js";
import type { TakenSnapshot } from "../../core/snapshot.js";

/**
 * The engine's backup of one repository, run in the view. A failed backup is that
 * repository's failure; the others go on. Only an interruption ends the run.
 */
export const backup: RepositoryStep<RunState & View & { taken: readonly TakenSnapshot[] }> = {
  name: "backup",
  async run(
    { p, emit, signal, warn, recordFailure, record, wrap, excludeFile, taken, devices },
    engine,
  ) {
    throwIfAborted(signal);
    emit({ type: "backup_start", plan: p.planName, repository: engine.repoName });
    try {
      const summary = await engine.backup({
        planName: p.planName,
        plan: p.plan,
        paths: p.sources.map((s) => s.path),
        extraExcludes: p.internalExcludes,
        ...(excludeFile === undefined ? {} : { excludeFile }),
        host: p.host,
        wrap,
        snapshots: taken,
        env: { TMPDIR: p.tmpDir },
        signal,
        onProgress: (pr) => emit(progressEvent(p.planName, engine.repoName, pr)),
        onWarning: (m) => warn(m, engine.repoName),
      });
      const event = summaryEvent(p.planName, engine.repoName, summary);
      record.summaries.push(event);
      emit(event);
      // restic < 0.17 rewrites every tree when a snapshot's device id differs from the
      // previous run's: remembered per repository and set of sources.
      const memory = new DeviceIdMemory(join(p.stateDir, "cache"));
      const key = DeviceIdMemory.key(
        engine.repoName,
        p.sources.map((s) => s.path),
      );
      const previous = await memory.get(key);
      await memory.set(key, devices);
      const churn = await churnWarning(engine, summary, previous, devices);
      if (churn !== undefined) warn(churn, engine.repoName);
    } catch (e) {
      if (signal.aborted) throw e;
      recordFailure(engine.repoName, e);
    }
  },
  describe: ({ dry }) => dry.commands.map((c) => `  run: ${c}`),
};

function summaryEvent(plan: string, repository: string, s: BackupSummary): SummaryEvent {
  return {
    type: "summary",
    plan,
    repository,
    snapshot_id: s.snapshotId,
    files_new: s.filesNew,
    files_changed: s.filesChanged,
    files_unmodified: s.filesUnmodified,
    dirs_new: s.dirsNew,
    dirs_changed: s.dirsChanged,
    dirs_unmodified: s.dirsUnmodified,
    data_blobs: s.dataBlobs,
    tree_blobs: s.treeBlobs,
    data_added: s.dataAdded,
    total_files_processed: s.totalFilesProcessed,
    total_bytes_processed: s.totalBytesProcessed,
    error_count: s.errorCount,
    duration_s: round(s.durationS),
    ...(s.replicated
      ? {
          replicated: s.replicated.map((r) => ({
            source: r.source,
            received: r.received,
            parent: r.parent ?? null,
            duration_s: round(r.durationS),
          })),
        }
      : {}),
  };
}
