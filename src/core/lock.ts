import { mkdir, open, readFile, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { InterruptedError, LockedError } from "../errors.js";
import { isAlive, ownerlessLeftBehind, selfIdentity, type ProcessIdentity } from "../util/proc.js";

export interface LockOwner extends ProcessIdentity {
  since: string;
  /** The plan the owner runs, for whoever waits ("waiting for plan home (pid 42)"). */
  plan?: string;
}

export interface AcquireOptions {
  /** A lock whose owner is dead is taken over; this hears about it. */
  onStale?: (owner: LockOwner) => void;
  /** How long to wait for a live owner: 0 (default) fails at once, Infinity waits until `signal`. */
  waitMs?: number;
  /** How often a waiter looks again. */
  pollMs?: number;
  /** Stops a wait with InterruptedError. */
  signal?: AbortSignal;
  /** Called when the lock is busy, once per owner waited for. */
  onWait?: (owner: LockOwner) => void;
  /** Recorded in the lock for waiters. */
  plan?: string;
}

const DEFAULT_POLL_MS = 500;
/** Stale owners in a row before giving up (another process keeps winning the takeover). */
const MAX_TAKEOVERS = 3;

/**
 * A lock file created with O_EXCL holding the owner's pid and start time. A lock whose owner
 * is gone (SIGKILL, power loss) is stale and taken over with a note.
 */
export class FileLock implements AsyncDisposable {
  private constructor(readonly path: string) {}

  static async acquire(
    dir: string,
    name: string,
    what: string,
    options: AcquireOptions | ((owner: LockOwner) => void) = {},
  ): Promise<FileLock> {
    const opts: AcquireOptions = typeof options === "function" ? { onStale: options } : options;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, `${name}.lock`);
    const me: LockOwner = {
      ...selfIdentity(),
      since: new Date().toISOString(),
      ...(opts.plan === undefined ? {} : { plan: opts.plan }),
    };
    const waitMs = opts.waitMs ?? 0;
    const deadline = Date.now() + waitMs;
    let takeovers = 0;
    let waitedFor: string | undefined;
    let rereadUnreadable = false;
    for (;;) {
      try {
        const fh = await open(path, "wx", 0o600);
        // No fsync: the lock only excludes live processes, which all see the page cache. A
        // lock left empty by a power cut predates the boot and is taken over (below).
        await fh.writeFile(JSON.stringify(me));
        await fh.close();
        return new FileLock(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      const { owner, text } = await readOwner(path);
      if (owner === undefined) continue; // released between our create and our read
      if (owner === "unreadable" && !(await ownerlessLeftBehind(path))) {
        // Its creator is writing it this very moment (or was killed doing so, moments ago):
        // look again shortly, then treat it as held. Taking it over now could remove the lock
        // of a live run that won a race for a stale one.
        if (!rereadUnreadable) {
          rereadUnreadable = true;
          await sleep(100, opts.signal);
          continue;
        }
        const left = deadline - Date.now();
        if (left <= 0)
          throw new LockedError(
            `${what} is locked: ${path} names no owner yet (being taken this moment)`,
            "try again in a few seconds",
          );
        await sleep(Math.min(opts.pollMs ?? DEFAULT_POLL_MS, left), opts.signal);
        continue;
      }
      if (owner !== "unreadable" && isAlive(owner)) {
        const left = deadline - Date.now();
        if (left <= 0) {
          const waited = waitMs > 0 ? `; gave up after waiting ${formatMs(waitMs)}` : "";
          throw new LockedError(
            `${what} is locked by another snapback run (pid ${owner.pid}, since ${owner.since})${waited}`,
            waitMs > 0
              ? "it is still running; try again later or wait longer (--wait)"
              : "wait for it to finish (or pass --wait DURATION), or check with: snapback status",
          );
        }
        const key = `${owner.pid}/${owner.startTime}`;
        if (key !== waitedFor) {
          waitedFor = key;
          opts.onWait?.(owner);
        }
        await sleep(Math.min(opts.pollMs ?? DEFAULT_POLL_MS, left), opts.signal);
        continue;
      }
      if (++takeovers > MAX_TAKEOVERS)
        throw new LockedError(`${what}: could not take the lock ${path}`);
      // Another waiter may have taken the stale lock over since we read it: only the very
      // file we judged is removed.
      if ((await readOwner(path)).text !== text) continue;
      // A file that never became readable was left by a process killed between create and write.
      opts.onStale?.(owner === "unreadable" ? { pid: 0, startTime: "", since: "unknown" } : owner);
      await rm(path, { force: true });
    }
  }

  async release(): Promise<void> {
    await rm(this.path, { force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}

/** The lock's owner; undefined when the file is gone. */
async function readOwner(
  path: string,
): Promise<{ owner: LockOwner | "unreadable" | undefined; text: string | undefined }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT")
      return { owner: undefined, text: undefined };
    throw e;
  }
  try {
    const owner = JSON.parse(text) as LockOwner;
    if (typeof owner.pid === "number") return { owner, text };
  } catch {
    // Empty or half-written.
  }
  return { owner: "unreadable", text };
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const interrupted = (): void => {
      const reason: unknown = signal?.reason;
      reject(new InterruptedError(reason instanceof Error ? reason.message : "a signal"));
    };
    if (signal?.aborted) return interrupted();
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      interrupted();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export function lockDir(stateDir: string): string {
  return join(stateDir, "locks");
}

/**
 * Removes lock files whose owner is gone (`snapback cleanup`; with `dryRun` only lists them).
 * An unreadable lock counts as stale only once nobody will write it any more
 * (`ownerlessLeftBehind`).
 */
export async function removeStaleLocks(
  stateDir: string,
  dryRun = false,
): Promise<{ path: string; owner: string }[]> {
  const dir = lockDir(stateDir);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: { path: string; owner: string }[] = [];
  for (const name of names.filter((n) => n.endsWith(".lock"))) {
    const path = join(dir, name);
    const { owner } = await readOwner(path);
    if (owner === undefined) continue;
    if (owner === "unreadable" ? !(await ownerlessLeftBehind(path)) : isAlive(owner)) continue;
    if (!dryRun) await rm(path, { force: true });
    removed.push({
      path,
      owner: owner === "unreadable" ? "unreadable" : `pid ${owner.pid}, since ${owner.since}`,
    });
  }
  return removed;
}
