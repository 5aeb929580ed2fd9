import { hostname } from "node:os";
import { runRestic, type ResticOptions, type ResticTarget } from "./command.js";
import { ResticError } from "./errors.js";
import { parseObject } from "./messages.js";

/**
 * restic's own staleness rule (Lock.Stale in internal/restic/lock.go, as in 0.14): a lock
 * is stale when it is older than 30 minutes — a live restic refreshes its locks every 5 — or
 * when it was created on this host by a process that no longer exists. A lock of another host
 * younger than that is never judged: that host may well be running.
 */
export const STALE_LOCK_AGE_MS = 30 * 60_000;

/** One lock file in a repository, as `restic cat lock` prints it. */
export interface ResticLock {
  /** The lock file's storage id. */
  id: string;
  /** ISO 8601 (UTC), or restic's text when it does not parse. */
  time: string;
  exclusive: boolean;
  hostname: string;
  username: string;
  pid: number;
}

export type LockVerdict = { stale: false } | { stale: true; reason: string };

export interface JudgeContext {
  now: number;
  /** This machine's host name, as restic sees it (os.Hostname). */
  host: string;
  isAlive: (pid: number) => boolean;
}

/** Applies restic's staleness rule to one lock. */
export function judgeLock(lock: ResticLock, ctx: JudgeContext): LockVerdict {
  const created = Date.parse(lock.time);
  if (!Number.isNaN(created) && ctx.now - created > STALE_LOCK_AGE_MS) {
    return {
      stale: true,
      reason: "older than 30 minutes (a running restic refreshes its lock every 5)",
    };
  }
  if (lock.hostname !== ctx.host) return { stale: false };
  if (!ctx.isAlive(lock.pid)) return { stale: true, reason: "its process is gone" };
  return { stale: false };
}

/** Parses `restic cat lock ID` output; undefined for anything that is not a lock. */
export function parseLock(id: string, json: string): ResticLock | undefined {
  const o = parseObject(json.trim());
  if (o === undefined) return undefined;
  if (typeof o["time"] !== "string" || typeof o["pid"] !== "number") return undefined;
  const time = Date.parse(o["time"]);
  return {
    id,
    time: Number.isNaN(time) ? o["time"] : new Date(time).toISOString(),
    // restic omits false and empty fields (omitempty).
    exclusive: o["exclusive"] === true,
    hostname: typeof o["hostname"] === "string" ? o["hostname"] : "",
    username: typeof o["username"] === "string" ? o["username"] : "",
    pid: o["pid"],
  };
}

/** "pid 42 on host nas (user root), since 2024-01-01T10:00:00.000Z" */
export function describeHolder(
  lock: Pick<ResticLock, "pid" | "hostname" | "username" | "time">,
): string {
  const user = lock.username ? ` (user ${lock.username})` : "";
  return `pid ${lock.pid} on host ${lock.hostname || "?"}${user}, since ${lock.time || "?"}`;
}

/** Every lock in the repository. A lock that vanishes while being read is skipped. */
export async function listLocks(
  target: ResticTarget,
  options: ResticOptions = {},
): Promise<ResticLock[]> {
  // --no-lock: listing must neither create a lock nor be blocked by an exclusive one.
  const ids = (
    await runRestic(target, ["list", "locks", "--no-lock"], { ...options, action: "list locks" })
  ).stdout
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => /^[0-9a-f]{64}$/.test(l));
  const locks: ResticLock[] = [];
  for (const id of ids) {
    const out = await catLock(target, id, options);
    const lock = out === undefined ? undefined : parseLock(id, out);
    if (lock) locks.push(lock);
  }
  return locks;
}

/**
 * One lock's JSON; undefined when it vanished after the listing (released, or replaced by
 * a refresh). restic 0.14 retries loading a missing file for about 45 seconds, so its first
 * "retrying" line ends the attempt.
 */
async function catLock(
  target: ResticTarget,
  id: string,
  options: ResticOptions,
): Promise<string | undefined> {
  const gone = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, gone.signal]) : gone.signal;
  try {
    const r = await runRestic(target, ["cat", "lock", "--no-lock", id], {
      ...options,
      signal,
      // --no-lock: nothing of restic's own to clean up when it is stopped.
      killGraceMs: 5_000,
      action: "cat lock",
      onStderrLine: (line) => {
        if (/returned error, retrying/.test(line)) gone.abort();
      },
    });
    return r.stdout;
  } catch (e) {
    if (options.signal?.aborted) throw e;
    if (gone.signal.aborted || (e instanceof ResticError && e.kind === "other")) return undefined;
    throw e;
  }
}

export interface ClearLocksOptions extends ResticOptions {
  /** Told about every stale lock that is gone afterwards, and why it was stale. */
  onRemoved?: (lock: ResticLock, reason: string) => void;
  /** Defaults to the real clock, host name and process table. */
  judge?: JudgeContext;
}

export interface ClearedLocks {
  removed: ResticLock[];
  /** Locks still there: live ones (and stale ones restic declined to remove). */
  remaining: ResticLock[];
}

/**
 * Removes the repository's stale locks, leaving live ones alone. The removal is restic's own
 * `restic unlock` (without --remove-all), which applies the same rule as judgeLock: so a lock
 * of another host is never removed before it is 30 minutes old, whatever snapback thinks.
 */
export async function clearStaleLocks(
  target: ResticTarget,
  options: ClearLocksOptions = {},
): Promise<ClearedLocks> {
  const locks = await listLocks(target, options);
  const judge = options.judge ?? currentJudge();
  const stale = new Map<string, string>();
  for (const l of locks) {
    const v = judgeLock(l, judge);
    if (v.stale) stale.set(l.id, v.reason);
  }
  if (stale.size === 0) return { removed: [], remaining: locks };
  await runRestic(target, ["unlock"], { ...options, action: "unlock" });
  const left = new Set(
    (
      await runRestic(target, ["list", "locks", "--no-lock"], { ...options, action: "list locks" })
    ).stdout
      .split("\n")
      .map((l) => l.trim()),
  );
  const removed: ResticLock[] = [];
  for (const l of locks) {
    const reason = stale.get(l.id);
    if (reason === undefined || left.has(l.id)) continue;
    removed.push(l);
    options.onRemoved?.(l, reason);
  }
  return { removed, remaining: locks.filter((l) => left.has(l.id)) };
}

/**
 * Clears stale locks, then fails with exit 4 naming the holder when a live lock would block
 * the caller: an exclusive lock blocks everything, any lock blocks an exclusive operation
 * (prune, forget, check).
 */
export async function ensureNotLocked(
  target: ResticTarget,
  options: ClearLocksOptions & { exclusive?: boolean } = {},
): Promise<ClearedLocks> {
  const cleared = await clearStaleLocks(target, options);
  const blocking = cleared.remaining.find((l) => l.exclusive || options.exclusive === true);
  if (blocking) throw lockedBy(target, blocking);
  return cleared;
}

export function lockedBy(target: ResticTarget, lock: ResticLock): ResticError {
  const here = lock.hostname === hostname();
  return new ResticError(
    "locked",
    target.repoName,
    `repository "${target.repoName}" is locked${lock.exclusive ? " exclusively" : ""} by ${describeHolder(lock)}`,
    {
      hint: here
        ? `a restic process on this machine holds it: wait for pid ${lock.pid} to finish`
        : `snapback never removes a live lock of another host: wait for that run to finish; if ${lock.hostname} really has no restic running, remove the lock with: snapback unlock --repository ${target.repoName} --force`,
    },
  );
}

/**
 * The stale locks a `clearStaleLocks` would remove, and the rest, without removing anything
 * (`cleanup --dry-run`).
 */
export async function findStaleLocks(
  target: ResticTarget,
  options: ResticOptions & { judge?: JudgeContext } = {},
): Promise<{ stale: { lock: ResticLock; reason: string }[]; live: ResticLock[] }> {
  const judge = options.judge ?? currentJudge();
  const stale: { lock: ResticLock; reason: string }[] = [];
  const live: ResticLock[] = [];
  for (const lock of await listLocks(target, options)) {
    const v = judgeLock(lock, judge);
    if (v.stale) stale.push({ lock, reason: v.reason });
    else live.push(lock);
  }
  return { stale, live };
}

/**
 * Removes every lock, live or not (`snapback unlock --force`): restic's own
 * `unlock --remove-all`. Returns the locks that were there before.
 */
export async function removeAllLocks(
  target: ResticTarget,
  options: ResticOptions = {},
): Promise<ResticLock[]> {
  const locks = await listLocks(target, options);
  if (locks.length > 0)
    await runRestic(target, ["unlock", "--remove-all"], { ...options, action: "unlock" });
  return locks;
}

function currentJudge(): JudgeContext {
  return { now: Date.now(), host: hostname(), isAlive: pidExists };
}

/** restic's check: does signal 0 reach the pid? (EPERM: it exists, owned by someone else.) */
function pidExists(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
