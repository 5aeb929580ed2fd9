import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * Which source snapshot each replication target needs as the parent of its next incremental
 * send, per plan and source: `state_dir/replication/<repository>.json`. The run keeps a
 * pinned snapshot instead of releasing it, and a snapshot pinned by any repository of the plan
 * is never removed by replication's own cleanup — so a target that missed a run (disk
 * unplugged, host down) still finds its parent on the next one.
 */
export interface Pin {
  /** btrfs: snapshot path; ZFS: `dataset@snap`. */
  snapshot: string;
  /** What the target knows it by (btrfs uuid, ZFS guid). */
  sendId: string;
}

interface PinFile {
  version: 1;
  plans: Record<string, Record<string, Pin>>;
}

export function pinFile(stateDir: string, repo: string): string {
  return join(stateDir, "replication", `${repo}.json`);
}

async function load(stateDir: string, repo: string): Promise<PinFile> {
  try {
    const parsed = JSON.parse(await readFile(pinFile(stateDir, repo), "utf8")) as Partial<PinFile>;
    if (parsed.version === 1 && parsed.plans && typeof parsed.plans === "object")
      return parsed as PinFile;
  } catch {
    // Missing or unreadable: no pins; the target itself still says what it has.
  }
  return { version: 1, plans: {} };
}

export async function readPins(
  stateDir: string,
  repo: string,
  plan: string,
): Promise<Record<string, Pin>> {
  return (await load(stateDir, repo)).plans[plan] ?? {};
}

/** Records (or, with `pin` undefined, forgets) the parent for one source; written atomically. */
export async function writePin(
  stateDir: string,
  repo: string,
  plan: string,
  source: string,
  pin: Pin | undefined,
): Promise<void> {
  const file = await load(stateDir, repo);
  const forPlan = { ...file.plans[plan] };
  if (pin) forPlan[source] = pin;
  else delete forPlan[source];
  file.plans[plan] = forPlan;
  const path = pinFile(stateDir, repo);
  await mkdir(join(stateDir, "replication"), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}

/** Every source snapshot some repository of `repos` needs for `plan`. */
export async function pinnedSnapshots(
  stateDir: string,
  plan: string,
  repos: readonly string[],
): Promise<Set<string>> {
  const out = new Set<string>();
  for (const repo of repos)
    for (const p of Object.values(await readPins(stateDir, repo, plan))) out.add(p.snapshot);
  return out;
}
