import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseEvery } from "../check/state.js";

/**
 * When a repository was last pruned, and whether forget has removed backups since whose space
 * a prune has yet to free: <state_dir>/prune/<repository>.json. Prune is repository-wide, so
 * the record is per repository, whichever plan pruned.
 */
export interface PruneState {
  last_prune?: string;
  /** Forget removed backups that no prune has freed yet. */
  pending: boolean;
}

export function pruneStatePath(stateDir: string, repository: string): string {
  return join(stateDir, "prune", `${repository}.json`);
}

export async function readPruneState(stateDir: string, repository: string): Promise<PruneState> {
  try {
    const v = JSON.parse(
      await readFile(pruneStatePath(stateDir, repository), "utf8"),
    ) as Partial<PruneState>;
    return {
      ...(typeof v.last_prune === "string" ? { last_prune: v.last_prune } : {}),
      pending: v.pending === true,
    };
  } catch {
    // Missing or torn: never pruned, nothing known to be pending.
    return { pending: false };
  }
}

export async function writePruneState(
  stateDir: string,
  repository: string,
  state: PruneState,
): Promise<void> {
  const path = pruneStatePath(stateDir, repository);
  await mkdir(join(stateDir, "prune"), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}

/** When the next prune is due under `every`; undefined when it is due now. */
export function nextPruneDue(every: string, state: PruneState, now: Date): Date | undefined {
  if (state.last_prune === undefined) return undefined;
  const last = Date.parse(state.last_prune);
  if (Number.isNaN(last)) return undefined;
  const next = last + parseEvery(every);
  return next > now.getTime() ? new Date(next) : undefined;
}
