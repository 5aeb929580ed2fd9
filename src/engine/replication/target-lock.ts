import { PassThrough } from "node:stream";
import { LockedError, SnapbackError } from "../../errors.js";
import type { Host } from "./ssh.js";

/** `flock` exits with this when the lock is held by someone else (-E). */
const BUSY = 75;
const READY = "snapback-locked";

/**
 * A lock on the target itself, so two machines (or two state dirs) replicating to one disk or
 * host take turns. It is an flock held by a process on the target for as long as our end of
 * its stdin is open: when we release it — or die, even by SIGKILL — the process sees end of
 * input and exits, and the kernel drops the lock. Nothing stale is ever left to clean up.
 */
export async function acquireTargetLock(
  host: Host,
  lockFile: string,
  what: string,
): Promise<AsyncDisposable> {
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
    if (first && typeof first === "object" && "exitCode" in first && first.exitCode === BUSY) {
      throw new LockedError(
        `${what} is in use by another snapback run (lock ${lockFile} on ${host.label})`,
        "wait for it to finish",
      );
    }
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
