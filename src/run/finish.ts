import { errorMessage } from "../errors.js";
import type { HistoryStore } from "../history/store.js";
import { log, redact } from "../log.js";
import { writeMetrics } from "../metrics/index.js";
import { notifyFinish, type NotifyChannel } from "../notify/index.js";
import type { EventSink, ResultEvent, SummaryEvent } from "../core/events.js";
import type { LogTail } from "./log-tail.js";

/** Where the end of a run is reported, whether it ran or could not start. */
export interface FinishContext {
  emit: EventSink;
  history?: HistoryStore;
  notify?: readonly NotifyChannel[];
  metricsPath?: string;
}

/**
 * Why a run did not succeed, in one line: the first thing that went wrong, never a summary
 * such as "no repository could be opened" that hides it. An interrupted run says so, since
 * whatever failed after the signal failed because of it.
 */
export function firstCause(o: {
  signal: AbortSignal;
  fatal: string | undefined;
  failedRepositories: Readonly<Record<string, string>>;
}): string | undefined {
  if (o.signal.aborted) return interruptedCause(o.signal);
  return o.fatal ?? Object.values(o.failedRepositories)[0];
}

/** "interrupted by SIGINT" when the abort came from a signal (src/core/signals.ts). */
export function interruptedCause(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  const what = reason instanceof Error ? reason.message : undefined;
  return what && /^SIG[A-Z]+$/.test(what) ? `interrupted by ${what}` : "interrupted";
}

/**
 * The last step of every run: the result event, the history record, the notifications and
 * the metrics textfile. `tail` must have seen every event of the run, the result included.
 */
export async function reportResult(
  ctx: FinishContext,
  result: ResultEvent,
  summaries: readonly SummaryEvent[],
  tail: LogTail,
): Promise<void> {
  ctx.emit(result);
  ctx.history?.finishRun(result.run_id, {
    status: result.status,
    endedAt: new Date(),
    snapshotIds: result.snapshot_ids,
    summaries: Object.fromEntries(
      summaries.map((s) => [
        s.repository,
        {
          filesNew: s.files_new,
          filesChanged: s.files_changed,
          filesUnmodified: s.files_unmodified,
          dataAdded: s.data_added,
          durationS: s.duration_s,
          totalFilesProcessed: s.total_files_processed,
          totalBytesProcessed: s.total_bytes_processed,
          errorCount: s.error_count,
        },
      ]),
    ),
    warnings: result.warnings.map(redact),
    ...(result.error === undefined ? {} : { error: redact(result.error) }),
    logTail: tail.lines(),
  });
  await notifyFinish(ctx.notify ?? [], {
    result,
    summaries: [...summaries],
    logTail: tail.lines(),
  });
  if (ctx.metricsPath !== undefined) {
    await writeMetrics(ctx.metricsPath, { result, summaries: [...summaries] }).catch((e: unknown) =>
      log.warn(`metrics: ${errorMessage(e)}`),
    );
  }
}
