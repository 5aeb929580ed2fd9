import { watch, type FSWatcher } from "node:fs";
import { dirname, basename } from "node:path";
import type { HistoryStore } from "../history/index.js";
import type { RunEventBus } from "./bus.js";

/**
 * Shows runs this daemon did not start (CLI, systemd timers) live: they write their events
 * into the history store (SQLite, WAL), and every commit appends to the `-wal` file. The
 * directory is watched with inotify, so nothing runs while nothing is written (no polling).
 * Runs the daemon started itself are skipped here: their events come from the child's stdout.
 */
export class HistoryWatcher implements Disposable {
  private watcher: FSWatcher | undefined;
  private lastSeq: number;
  private scheduled = false;

  constructor(
    private readonly store: HistoryStore,
    private readonly dbPath: string,
    private readonly bus: RunEventBus,
    private readonly ownedByDaemon: (runId: string) => boolean,
    private readonly onError: (e: unknown) => void,
  ) {
    this.lastSeq = store.lastEventSeq();
  }

  start(): void {
    const wal = `${basename(this.dbPath)}-wal`;
    this.watcher = watch(dirname(this.dbPath), { persistent: false }, (_type, file) => {
      if (file === wal || file === basename(this.dbPath)) this.schedule();
    });
    this.watcher.on("error", this.onError);
  }

  /** Coalesces a burst of inotify events into one read. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  /** Publishes every event written since the last read. */
  drain(): void {
    try {
      for (;;) {
        const batch = this.store.eventsAfter(this.lastSeq, 500);
        for (const e of batch) {
          this.lastSeq = e.seq;
          if (!this.ownedByDaemon(e.runId)) this.bus.publish(e.runId, e.plan, e.event, "external");
        }
        if (batch.length < 500) break;
      }
    } catch (e) {
      this.onError(e);
    }
  }

  [Symbol.dispose](): void {
    this.watcher?.close();
    this.watcher = undefined;
  }
}
