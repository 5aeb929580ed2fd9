import { rm } from "node:fs/promises";
import { errorMessage } from "../errors.js";
import { providerByName } from "../snapshot/registry.js";
import type { JournalEntry } from "../core/snapshot.js";
import { findOrphanJournals } from "../core/journal.js";

export interface Reclaimed {
  runId: string;
  plan: string;
  entry: JournalEntry;
  error?: string;
}

/**
 * Removes what runs killed without cleanup (SIGKILL, power loss) left behind, newest object
 * first, using their journals. A journal is deleted only once all its objects are gone.
 */
export async function reclaimOrphans(stateDir: string, dryRun = false): Promise<Reclaimed[]> {
  const report: Reclaimed[] = [];
  for (const orphan of await findOrphanJournals(stateDir)) {
    let ok = true;
    for (const entry of [...orphan.pending].reverse()) {
      const item: Reclaimed = { runId: orphan.owner.runId, plan: orphan.owner.plan, entry };
      if (!dryRun) {
        try {
          await reclaimEntry(entry);
        } catch (e) {
          ok = false;
          item.error = errorMessage(e);
        }
      }
      report.push(item);
    }
    if (ok && !dryRun) await rm(orphan.path, { force: true });
  }
  return report;
}

async function reclaimEntry(entry: JournalEntry): Promise<void> {
  if (entry.provider === "fs" && entry.type === "dir") {
    await rm(entry.id, { recursive: true, force: true });
    return;
  }
  const provider = providerByName(entry.provider);
  if (!provider) throw new Error(`unknown journal entry provider "${entry.provider}"`);
  await provider.reclaim(entry);
}

export function describeEntry(e: JournalEntry): string {
  return `${e.provider} ${e.type} ${e.id}`;
}
