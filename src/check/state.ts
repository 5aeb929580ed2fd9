import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * When a plan's repositories last passed a check: <state_dir>/check/<plan>.json. Only a
 * passing check is recorded, so a failed or broken one is tried again after the next backup.
 */
export interface CheckState {
  last_ok: string;
  read_data?: string;
  spot?: number;
}

export function checkStatePath(stateDir: string, plan: string): string {
  return join(stateDir, "check", `${plan}.json`);
}

export async function readCheckState(
  stateDir: string,
  plan: string,
): Promise<CheckState | undefined> {
  try {
    const v = JSON.parse(await readFile(checkStatePath(stateDir, plan), "utf8")) as unknown;
    if (v && typeof v === "object" && typeof (v as CheckState).last_ok === "string")
      return v as CheckState;
  } catch {
    // Missing or torn: as if never checked.
  }
  return undefined;
}

export async function writeCheckState(
  stateDir: string,
  plan: string,
  state: CheckState,
): Promise<void> {
  const path = checkStatePath(stateDir, plan);
  await mkdir(join(stateDir, "check"), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}

const UNIT_MS: Record<string, number> = { w: 7 * 864e5, d: 864e5, h: 36e5, m: 6e4, s: 1e3 };

/** "7d", "12h", "1w2d" → milliseconds (the config schema has validated the form). */
export function parseEvery(every: string): number {
  let ms = 0;
  for (const m of every.matchAll(/(\d+)([wdhms])/g))
    ms += Number(m[1]) * (UNIT_MS[m[2] ?? ""] ?? 0);
  return ms;
}

/** Is a check due: never passed, no interval (after every backup), or the last pass is older than `every`. */
export function checkDue(
  every: string | undefined,
  state: CheckState | undefined,
  now: Date,
): boolean {
  if (!state || every === undefined) return true;
  const last = Date.parse(state.last_ok);
  if (Number.isNaN(last)) return true;
  return now.getTime() - last >= parseEvery(every);
}
