import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

/**
 * What `restic version` and `restic features` said about one binary, kept across runs: the
 * two processes cost every run ~0.1 s, and a binary that has the same path, size, mtime and
 * inode as when it was probed is the same binary (an upgrade replaces the file).
 */
export interface CachedProbe {
  versionText: string;
  /** null: `restic features` failed (restic < 0.17). */
  featuresText: string | null;
}

interface Entry extends CachedProbe {
  size: number;
  mtimeMs: number;
  ino: number;
}

let cacheFile: string | undefined;

/** Keeps probes in `<dir>/restic-probes.json` (the state dir's cache); undefined turns it off. */
export function setProbeCacheDir(dir: string | undefined): void {
  cacheFile = dir === undefined ? undefined : join(dir, "restic-probes.json");
}

async function identity(path: string): Promise<{ size: number; mtimeMs: number; ino: number }> {
  const st = await stat(path);
  return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
}

async function readAll(file: string): Promise<Record<string, Entry>> {
  try {
    const parsed: unknown = JSON.parse(await readFile(file, "utf8"));
    return parsed !== null && typeof parsed === "object" ? (parsed as Record<string, Entry>) : {};
  } catch {
    return {};
  }
}

/** The cached probe of `path`, if the file is still the one probed. */
export async function cachedProbe(path: string): Promise<CachedProbe | undefined> {
  if (cacheFile === undefined) return undefined;
  const entry = (await readAll(cacheFile))[path];
  if (entry === undefined || typeof entry.versionText !== "string") return undefined;
  try {
    const now = await identity(path);
    const same = now.size === entry.size && now.mtimeMs === entry.mtimeMs && now.ino === entry.ino;
    return same ? { versionText: entry.versionText, featuresText: entry.featuresText } : undefined;
  } catch {
    return undefined;
  }
}

/** Remembers a probe; a cache that cannot be written only costs the next run a probe. */
export async function storeProbe(path: string, probe: CachedProbe): Promise<void> {
  const file = cacheFile;
  if (file === undefined) return;
  try {
    const all = await readAll(file);
    all[path] = { ...probe, ...(await identity(path)) };
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    // Written aside and renamed: a concurrent run reads the old or the new file, never half.
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(all), { mode: 0o600 });
    await rename(tmp, file);
  } catch {
    // best effort
  }
}
