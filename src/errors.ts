/** The exit codes of the contract (the interface contract; README "Exit codes"). */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  partial: 3,
  locked: 4,
  interrupted: 130,
} as const;

/**
 * Every failure a command can end with. Commands throw; only the CLI entry catches and maps
 * `exitCode` to the process exit status, so a user error never prints a stack trace.
 */
export class SnapbackError extends Error {
  readonly exitCode: number;
  /** A line or two the user can act on, printed under the message. */
  readonly hint: string | undefined;

  constructor(
    message: string,
    options: { exitCode?: number; hint?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options.exitCode ?? 1;
    this.hint = options.hint;
  }
}

/** Bad command line or bad configuration: nothing was touched. Exit 2. */
export class UsageError extends SnapbackError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, { ...options, exitCode: EXIT.usage });
  }
}

/** The config file is invalid. Carries every problem found, each naming its key path. */
export class ConfigError extends UsageError {
  readonly problems: readonly string[];
  constructor(file: string, problems: readonly string[]) {
    super(
      problems.length === 1
        ? `${file}: ${problems[0] ?? ""}`
        : `${file}: ${problems.length} problems:\n  ${problems.join("\n  ")}`,
    );
    this.problems = problems;
  }
}

/** Another run holds a lock we need. Exit 4. */
export class LockedError extends SnapbackError {
  constructor(message: string, hint?: string) {
    super(
      message,
      hint === undefined ? { exitCode: EXIT.locked } : { exitCode: EXIT.locked, hint },
    );
  }
}

/** SIGINT/SIGTERM arrived; cleanup has run by the time this reaches the CLI. Exit 130. */
export class InterruptedError extends SnapbackError {
  constructor(signal: string) {
    super(`interrupted by ${signal}`, { exitCode: EXIT.interrupted });
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
