/**
 * What a run reports about each database dump (one per database and repository). Until the
 * run's event union lists it, the run passes these through as they are: with --json they
 * are lines like every other event.
 */
export interface DatabaseSummaryEvent {
  type: "database_summary";
  plan: string;
  repository: string;
  database: string;
  db_type: string;
  snapshot_id: string;
  /** The path the dump is stored under in the snapshot. */
  path: string;
  /** Bytes of the dump. */
  bytes: number;
  data_added: number;
  duration_s: number;
}
