import { UsageError } from "../errors.js";

export interface PatternSource {
  /** The ignore file, as the user knows it (its original path). */
  file: string;
  /** 1-based line number. */
  line: number;
}

/**
 * A line of an ignore file that snapback cannot hand to restic with its gitignore meaning.
 * A user error (exit 2): the file must be fixed, nothing about the machine is wrong.
 */
export class IgnorePatternError extends UsageError {
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly pattern: string;
  readonly reason: string;

  constructor(pattern: string, reason: string, where?: Partial<PatternSource>, hint?: string) {
    const at =
      where?.file === undefined
        ? "ignore pattern"
        : where.line === undefined
          ? where.file
          : `${where.file}:${where.line}`;
    super(
      `${at}: ${reason} (pattern ${JSON.stringify(pattern)})`,
      hint === undefined ? {} : { hint },
    );
    this.file = where?.file;
    this.line = where?.line;
    this.pattern = pattern;
    this.reason = reason;
  }
}
