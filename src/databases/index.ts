export {
  databasesSchema,
  databaseSchema,
  databasesOf,
  type DatabaseConfig,
  type DatabaseType,
} from "../config/databases.js";
export {
  dumpDatabases,
  dumpDatabase,
  describeDatabaseDumps,
  type DumpRun,
  type DumpContext,
} from "./dump.js";
export {
  restoreDatabase,
  type DumpDestination,
  type RestoreDatabaseRequest,
  type RestoredDatabase,
} from "./restore.js";
export type { DatabaseSummaryEvent } from "../core/events.js";
export {
  DATABASE_ROOT,
  databaseFromTags,
  databaseTag,
  dumpPath,
  dumpSelector,
  dumpTags,
  formatOfPath,
  isDatabaseSnapshot,
  planDatabasesTag,
  type DumpFormat,
} from "./naming.js";
export { driverFor } from "./registry.js";

export { listPlanDumps } from "./list.js";
