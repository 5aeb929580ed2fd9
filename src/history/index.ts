import { join } from "node:path";
import { HISTORY_FILE, SqliteHistoryStore } from "./sqlite.js";
import type { HistoryStore } from "./store.js";

export { MemoryHistoryStore } from "./memory.js";
export { HISTORY_FILE, SCHEMA_VERSION, SqliteHistoryStore } from "./sqlite.js";
export type {
  AuditEntry,
  HistoryStore,
  RunPage,
  StoredEvent,
  RunOutcome,
  RunRecord,
  RunResult,
  RunStart,
  RunStatus,
  RunSummaryFigures,
} from "./store.js";

/** The run history of a machine: `<stateDir>/history.sqlite`, created (0600) on first use. */
export function openHistory(stateDir: string): HistoryStore {
  return new SqliteHistoryStore(join(stateDir, HISTORY_FILE));
}
export { LiveEvents, type LiveEvent } from "./live.js";
