import type { Plan } from "../config/schema.js";
import type { DetectedSource, SnapshotPlan, SnapshotProvider } from "./snapshot.js";

/**
 * The pure half of a run: everything that will happen, worked out by reading the system and
 * touching nothing. `backup --dry-run` prints it; `apply` carries it out. The planning itself
 * (`planRun`) is in src/run/plan.ts; features that act on a plan need only this type.
 */
export interface RunPlan {
  planName: string;
  plan: Plan;
  runId: string;
  stateDir: string;
  host: string;
  sources: DetectedSource[];
  groups: { provider: SnapshotProvider; snapshot: SnapshotPlan }[];
  repositories: string[];
  /** Paths snapback keeps out of every backup (its own state and snapshot dirs). */
  internalExcludes: string[];
  /** Per-run temp dir; live and writable in the view. */
  tmpDir: string;
  notPointInTime: string[];
  /** Things the user should know before trusting the result. */
  warnings: string[];
}
