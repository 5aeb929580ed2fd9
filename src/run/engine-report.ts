import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ResticEngine } from "../engine/restic-engine.js";
import { missingFeatureNote, usedFeatures } from "../engine/restic/index.js";
import type { BackupSummary, RepositoryEngine } from "../engine/types.js";
import type { TakenSnapshot } from "../core/snapshot.js";

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

/** The device id of each frozen path restic reads (a bind's original path → st_dev). */
export type DeviceIds = Record<string, number>;

/**
 * What restic (< 0.17 stores it in every node) sees as each source's device: the snapshot's,
 * which every bind mount keeps. Read while the snapshots are mounted; `none` sources have no
 * binds and are left out (a live directory keeps its device).
 */
export async function snapshotDeviceIds(taken: readonly TakenSnapshot[]): Promise<DeviceIds> {
  const out: DeviceIds = {};
  for (const b of taken.flatMap((t) => t.binds)) {
    const st = await stat(b.from).catch(() => undefined);
    if (st !== undefined) out[b.to] = st.dev;
  }
  return out;
}

/**
 * The device ids of each repository's last backup of a set of paths, kept in the state dir's
 * cache: restic picks the parent by host and paths, so the last backup of the same paths into
 * the same repository is the parent, and its device ids are what the new trees are compared to.
 * Reading them back from the repository would cost a repository open (~0.6 s) per run.
 */
export class DeviceIdMemory {
  readonly #file: string;

  constructor(cacheDir: string) {
    this.#file = join(cacheDir, "device-ids.json");
  }

  static key(repository: string, paths: readonly string[]): string {
    return `${repository}\n${[...paths].sort().join("\n")}`;
  }

  async #readAll(): Promise<Record<string, DeviceIds>> {
    try {
      const parsed: unknown = JSON.parse(await readFile(this.#file, "utf8"));
      return parsed !== null && typeof parsed === "object"
        ? (parsed as Record<string, DeviceIds>)
        : {};
    } catch {
      return {};
    }
  }

  async get(key: string): Promise<DeviceIds | undefined> {
    return (await this.#readAll())[key];
  }

  /** Best effort: a memory that cannot be written only makes the next warning a guess. */
  async set(key: string, ids: DeviceIds): Promise<void> {
    try {
      const all = await this.#readAll();
      all[key] = ids;
      await mkdir(dirname(this.#file), { recursive: true, mode: 0o700 });
      // Written aside and renamed: a concurrent run reads the old or the new file, never half.
      const tmp = `${this.#file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(all), { mode: 0o600 });
      await rename(tmp, this.#file);
    } catch {
      // best effort
    }
  }
}

/** The frozen paths whose device id differs from the parent's: "/home (47 → 52)". */
export function changedDevices(previous: DeviceIds, current: DeviceIds): string[] {
  const out: string[] = [];
  for (const [path, dev] of Object.entries(current)) {
    const before = previous[path];
    if (before !== undefined && before !== dev) out.push(`${path} (${before} → ${dev})`);
  }
  return out;
}

/**
 * A restic without device-id-for-hardlinks stores the device id in every node, so a snapshot
 * with a new device id makes every directory below the source differ from the parent's and
 * restic stores all of their trees again, whether or not files changed. `previous` is the
 * parent's device ids when snapback remembers them; without them (the first run after an
 * upgrade of snapback, a lost cache) the only sure sign is a backup in which no file changed
 * and directories did.
 */
export function churnMessage(
  summary: BackupSummary,
  note: string,
  previous: DeviceIds | undefined,
  current: DeviceIds,
): string | undefined {
  if (summary.dirsChanged === 0) return undefined;
  const noFileChanged = summary.filesNew === 0 && summary.filesChanged === 0;
  // restic 0.14's summary does not split data_added into file data and tree data: with no
  // file changed it is all tree data; otherwise only the directory and tree blob counts are.
  const bytes = noFileChanged
    ? `${summary.dataAdded} bytes of tree data added`
    : `${summary.treeBlobs} new tree blobs; the ${summary.dataAdded} bytes added include the changed files' data, which restic does not report apart`;
  if (previous === undefined) {
    if (!noFileChanged) return undefined;
    return `no file changed, yet restic stored ${summary.dirsChanged} changed directories (${bytes}): ${note}`;
  }
  const changed = changedDevices(previous, current);
  if (changed.length === 0) return undefined;
  return `the snapshot got a new device id (${changed.join(", ")}), so restic stored ${summary.dirsChanged} changed directories again (${bytes}): ${note}`;
}

/** The churn warning of one repository's backup, if its restic lacks device-id-for-hardlinks. */
export async function churnWarning(
  engine: RepositoryEngine,
  summary: BackupSummary,
  previous: DeviceIds | undefined,
  current: DeviceIds,
): Promise<string | undefined> {
  if (Object.keys(current).length === 0 || !(engine instanceof ResticEngine)) return undefined;
  const binary = await engine.probe().catch(() => undefined);
  const note = binary && missingFeatureNote(binary);
  if (!note) return undefined;
  return churnMessage(summary, note, previous, current);
}
