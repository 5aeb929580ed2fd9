import { ResticEngine } from "../engine/restic-engine.js";
import { missingFeatureNote, usedFeatures } from "../engine/restic/index.js";
import type { BackupSummary, RepositoryEngine } from "../engine/types.js";

/** Which engine binary served each repository of a run, and the features snapback used. */
export interface EngineReport {
  engine: string;
  version: string;
  features: string[];
}

export async function engineReports(
  engines: readonly RepositoryEngine[],
): Promise<Record<string, EngineReport>> {
  const out: Record<string, EngineReport> = {};
  for (const e of engines) {
    if (!(e instanceof ResticEngine)) continue;
    const binary = await e.probe().catch(() => undefined);
    if (binary) {
      out[e.repoName] = {
        engine: "restic",
        version: binary.version,
        features: usedFeatures(binary),
      };
    }
  }
  return out;
}

/**
 * A restic without device-id-for-hardlinks sees a new device id on every snapshot and stores
 * every directory below the source again. On a backup in which no file changed, every changed
 * directory is that churn: say how much it cost and how to stop it.
 */
export async function churnWarning(
  engine: RepositoryEngine,
  summary: BackupSummary,
  fromSnapshot: boolean,
): Promise<string | undefined> {
  if (!fromSnapshot || !(engine instanceof ResticEngine)) return undefined;
  if (summary.filesNew > 0 || summary.filesChanged > 0 || summary.dirsChanged === 0)
    return undefined;
  const binary = await engine.probe().catch(() => undefined);
  const note = binary && missingFeatureNote(binary);
  if (!note) return undefined;
  return `no file changed, yet restic stored ${summary.dirsChanged} changed directories (${summary.dataAdded} bytes added): ${note}`;
}
