import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { PassThrough } from "node:stream";
import { errorMessage, LockedError, SnapbackError } from "../../errors.js";
import { run } from "../../exec/index.js";
import type { Host } from "./ssh.js";

/** `flock` exits with this when the lock is held by someone else (-E). */
const BUSY = 75;
const READY = "snapback-locked";

/**
 * A lock on the target itself, so two machines (or two state dirs) replicating to one disk or
 * host take turns: an flock on `lockFile`, which the kernel drops when its holder is gone, even
 * by SIGKILL. Nothing stale is ever left to clean up.
 */
export function acquireTargetLock(
  host: Host,
  lockFile: string,
  what: string,
): Promise<AsyncDisposable> {
  return host.remote ? lockThere(host, lockFile, what) : lockHere(lockFile, what);
}

const busy = (lockFile: string, what: string, where: string) =>
  new LockedError(
    `${what} is in use by another snapback run (lock ${lockFile} on ${where})`,
    "wait for it to finish",
  );

/**
 * On this machine the lock is on a file we keep open: `flock 3` locks the open file we hand it,
 * and the lock stays with that open file after flock exits, until we close it or die. One
 * short process instead of a holder that lives as long as the run.
 */
async function lockHere(lockFile: string, what: string): Promise<AsyncDisposable> {
  // Read-only, created if missing, as flock(1) itself opens it: a lock file another user made
  // (a root run before a delegated one) still locks.
  const file = await open(lockFile, constants.O_RDONLY | constants.O_CREAT, 0o644).catch(
    (e: unknown) => {
      throw new SnapbackError(`cannot lock ${what}: ${errorMessage(e)}`, { cause: e });
    },
  );
  try {
    const r = await run("flock", ["-n", "-E", String(BUSY), "3"], { fd3: file.fd, reject: false });
    if (r.exitCode === BUSY) throw busy(lockFile, what, "this machine");
    if (r.exitCode !== 0)
      throw new SnapbackError(
        `cannot lock ${what}: ${r.stderr.trim() || `flock ${lockFile} failed`}`,
      );
  } catch (e) {
    await file.close();
    throw e;
  }
  return { [Symbol.asyncDispose]: () => file.close() };
}

/**
 * On an ssh host, a process there holds it for as long as our end of its stdin is open: when we
 * release it — or die — the process sees end of input and exits, and that kernel drops it.
 */
async function lockThere(host: Host, lockFile: string, what: string): Promise<AsyncDisposable> {
  const stdin = new PassThrough();
  let ready: () => void = () => undefined;
  const locked = new Promise<"locked">((resolve) => (ready = () => resolve("locked")));
  const holder = host
    .run(
      [
        "flock",
        "-n",
        "-E",
        String(BUSY),
        lockFile,
        "sh",
        "-c",
        `echo ${READY}; exec cat >/dev/null`,
      ],
      {
        stdin,
        reject: false,
        onStdoutLine: (line) => {
          if (line === READY) ready();
        },
      },
    )
    .catch((e: unknown) => e);
  const first = await Promise.race([locked, holder]);
  if (first !== "locked") {
    stdin.end();
    if (first instanceof Error) throw first;
    if (first && typeof first === "object" && "exitCode" in first && first.exitCode === BUSY)
      throw busy(lockFile, what, host.label);
    const stderr =
      first && typeof first === "object" && "stderr" in first ? String(first.stderr).trim() : "";
    throw new SnapbackError(
      `cannot lock ${what}: ${stderr || `flock ${lockFile} failed on ${host.label}`}`,
    );
  }
  return {
    async [Symbol.asyncDispose]() {
      stdin.end();
      await holder;
    },
  };
}
