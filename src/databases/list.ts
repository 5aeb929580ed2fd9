import type { EngineSnapshot, RepositoryEngine } from "../engine/types.js";
import { planDatabasesTag } from "./naming.js";

/** A plan's database dumps in one repository, oldest first (for `snapback snapshots`). */
export function listPlanDumps(
  engine: RepositoryEngine,
  plan: string,
  signal?: AbortSignal,
): Promise<EngineSnapshot[]> {
  return engine.snapshotsWithTags([planDatabasesTag(plan)], signal);
}
