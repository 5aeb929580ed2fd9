import type { ChildProcess } from "node:child_process";

/**
 * Stops a child and everything it started. Children are spawned as group leaders, so the
 * signal goes to the whole group; if the group has not exited after `graceMs` it gets SIGKILL.
 * restic must get SIGINT (SIGTERM kills old versions outright and leaves a stale lock).
 */
export function terminate(
  child: ChildProcess,
  signal: NodeJS.Signals = "SIGTERM",
  graceMs = 10_000,
): void {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  signalGroup(pid, signal);
  const timer = setTimeout(() => signalGroup(pid, "SIGKILL"), graceMs);
  timer.unref();
  child.once("exit", () => clearTimeout(timer));
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}
