import { SnapbackError } from "../errors.js";

/** A command that could not start, exited non-zero, or was killed. Carries its output. */
export class ProcessError extends SnapbackError {
  readonly command: string;
  readonly exitCode_: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** ENOENT etc. when the program could not be started at all. */
  readonly spawnCode: string | undefined;

  constructor(init: {
    command: string;
    exitCode: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
    spawnCode?: string;
    cause?: unknown;
  }) {
    super(describe(init), { cause: init.cause });
    this.command = init.command;
    this.exitCode_ = init.exitCode;
    this.signal = init.signal;
    this.stdout = init.stdout;
    this.stderr = init.stderr;
    this.spawnCode = init.spawnCode;
  }

  /** The last non-empty stderr lines: what a user needs to see of a failed tool. */
  stderrTail(lines = 5): string {
    return this.stderr.trim().split("\n").slice(-lines).join("\n");
  }
}

function describe(init: {
  command: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  spawnCode?: string;
}): string {
  if (init.spawnCode === "ENOENT") return `${init.command}: program not found`;
  if (init.spawnCode !== undefined) return `${init.command}: could not start (${init.spawnCode})`;
  const how = init.signal ? `was killed by ${init.signal}` : `exited with code ${init.exitCode}`;
  const tail = init.stderr.trim().split("\n").slice(-3).join("\n").trim();
  return tail ? `${init.command} ${how}: ${tail}` : `${init.command} ${how}`;
}
