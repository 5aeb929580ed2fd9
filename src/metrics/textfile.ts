import { randomBytes } from "node:crypto";
import { open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { LockedError, SnapbackError } from "../errors.js";
import { log } from "../log.js";
import { FileLock } from "../core/lock.js";
import { ExpositionError, parse, render, type Sample } from "./exposition.js";
import { FAMILIES } from "./families.js";
import { merge, type MetricsRun } from "./samples.js";

/** How long to wait for another snapback writing the same file. */
const LOCK_WAIT_MS = 10_000;

/**
 * Writes the Prometheus textfile after runs: reads the previous file back, merges (other
 * plans are kept), writes a temporary file in the same directory and renames it over the old
 * one, so node_exporter never reads a half-written file. Mode 0644: node_exporter usually
 * runs as its own user. Throws SnapbackError when the file cannot be written; the caller
 * decides (a backup should not fail over its metrics).
 */
export function writeMetrics(
  path: string,
  runs: MetricsRun | readonly MetricsRun[],
  now: Date = new Date(),
): Promise<void> {
  const list: readonly MetricsRun[] = Array.isArray(runs) ? runs : [runs as MetricsRun];
  // Writers in this process take turns; the lock file orders them against other processes.
  const key = resolve(path);
  const previous = queue.get(key) ?? Promise.resolve();
  const mine = previous.then(() => writeLocked(path, list, now));
  const settled = mine.catch(() => undefined);
  queue.set(key, settled);
  void settled.then(() => {
    if (queue.get(key) === settled) queue.delete(key);
  });
  return mine;
}

const queue = new Map<string, Promise<void>>();

async function writeLocked(path: string, list: readonly MetricsRun[], now: Date): Promise<void> {
  const dir = dirname(path);
  const base = basename(path);
  await requireDirectory(dir);
  // Two plans finishing together would otherwise both read the old file and one would
  // overwrite the other's update.
  const lock = await acquire(dir, base, path);
  try {
    await removeStaleTemps(dir, base);
    const previous = await readPrevious(path);
    await replaceAtomically(dir, base, render(FAMILIES, merge(previous, list, now)));
  } finally {
    await lock.release();
  }
}

async function requireDirectory(dir: string): Promise<void> {
  try {
    if ((await stat(dir)).isDirectory()) return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SnapbackError(
      `metrics.textfile: directory ${dir} ${code === "ENOENT" ? "does not exist" : `cannot be used (${code})`}`,
      {
        hint: "create it, or point metrics.textfile into node_exporter's --collector.textfile.directory",
      },
    );
  }
  throw new SnapbackError(`metrics.textfile: ${dir} is not a directory`);
}

async function acquire(dir: string, base: string, path: string): Promise<FileLock> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      return await FileLock.acquire(dir, `.${base}`, `metrics file ${path}`);
    } catch (e) {
      if (!(e instanceof LockedError) || Date.now() > deadline) throw e;
      await sleep(50);
    }
  }
}

const tempPattern = (base: string): RegExp =>
  new RegExp(`^\\.${base.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.\\d+\\.[0-9a-f]+\\.tmp$`);

/** Temp files of a writer killed before its rename. We hold the lock: none is in use. */
async function removeStaleTemps(dir: string, base: string): Promise<void> {
  const pattern = tempPattern(base);
  for (const name of await readdir(dir)) {
    if (pattern.test(name)) await rm(join(dir, name), { force: true });
  }
}

async function readPrevious(path: string): Promise<Sample[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new SnapbackError(
      `metrics.textfile: cannot read ${path} (${(e as NodeJS.ErrnoException).code})`,
    );
  }
  try {
    return parse(text);
  } catch (e) {
    if (!(e instanceof ExpositionError)) throw e;
    log.warn(`metrics: ${path} is not in the expected format (${e.message}); starting it afresh`);
    return [];
  }
}

async function replaceAtomically(dir: string, base: string, content: string): Promise<void> {
  const temp = join(dir, `.${base}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    const fh = await open(temp, "wx", 0o644);
    try {
      await fh.chmod(0o644); // the umask may have taken bits away
      await fh.writeFile(content, "utf8");
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(temp, join(dir, base));
  } catch (e) {
    await rm(temp, { force: true });
    throw new SnapbackError(
      `metrics.textfile: cannot write ${join(dir, base)} (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
    );
  }
  await syncDirectory(dir);
}

/** Makes the rename itself durable; a failure here loses nothing that is not re-written. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const fh = await open(dir, "r");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Some filesystems refuse fsync on directories.
  }
}
