import { readFileSync } from "node:fs";
import { stat } from "node:fs/promises";
import { uptime } from "node:os";

/**
 * Identifies a process by pid and kernel start time, so a recycled pid is not mistaken for
 * the run that wrote a lock or journal.
 */
export interface ProcessIdentity {
  pid: number;
  startTime: string;
}

export function selfIdentity(): ProcessIdentity {
  return { pid: process.pid, startTime: startTimeOf(process.pid) ?? "" };
}

export function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22 (starttime); the command name (field 2) may contain spaces and parentheses.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return rest[19];
  } catch {
    return undefined;
  }
}

/**
 * A zombie (killed, not yet reaped: its parent died too and init has not got to it) holds
 * nothing any more and counts as gone.
 */
export function isAlive(id: ProcessIdentity): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${id.pid}/stat`, "utf8");
  } catch {
    return false;
  }
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (rest[0] === "Z" || rest[0] === "X") return false;
  const now = rest[19];
  return now !== undefined && (id.startTime === "" || now === id.startTime);
}

/**
 * For a lock or journal file that names no owner: its writer creates it and writes the owner
 * next, within microseconds. Older than this boot (a power cut before the writeback) or than
 * 10 s (a writer killed in between), nobody will write it any more; younger, it may be being
 * written this moment.
 */
export async function ownerlessLeftBehind(path: string): Promise<boolean> {
  const mtimeMs = (await stat(path).catch(() => undefined))?.mtimeMs;
  if (mtimeMs === undefined) return false;
  const bootMs = Date.now() - uptime() * 1000;
  return mtimeMs < bootMs || Date.now() - mtimeMs >= 10_000;
}
