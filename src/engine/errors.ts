import { SnapbackError } from "../errors.js";

/** Why a command of any engine fails before it ran: the binary is missing or would not start. */
export type StartFailureKind = "not-found-binary" | "other";

export interface EngineErrorOptions {
  hint?: string;
  /** The last lines the engine printed on stderr, secrets redacted. */
  stderrTail?: string;
  cause?: unknown;
  /** Overrides the kind's exit status (a refused credential is the user's to fix: 2). */
  exitCode?: number;
}

/**
 * A command of a backup engine failed; `kind` says why, the message names the repository by
 * its config name. Each engine derives its own class with its kinds and their exit statuses,
 * so `instanceof ResticError` / `KopiaError` still tells the engines apart.
 */
export class EngineError<K extends string> extends SnapbackError {
  readonly kind: K;
  /** The repository's name in the config, when the command had one. */
  readonly repository: string | undefined;
  /** The last lines the engine printed on stderr, secrets redacted. */
  readonly stderrTail: string;

  constructor(
    exitCodes: Readonly<Record<K, number>>,
    kind: K,
    repository: string | undefined,
    message: string,
    options: EngineErrorOptions = {},
  ) {
    super(message, {
      exitCode: options.exitCode ?? exitCodes[kind],
      ...(options.hint === undefined ? {} : { hint: options.hint }),
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.kind = kind;
    this.repository = repository;
    this.stderrTail = options.stderrTail ?? "";
  }
}

/**
 * The error class of one engine: `new ResticError(kind, repository, message, options)` with the
 * exit status of its kind from `exitCodes`.
 */
export function engineErrorClass<K extends string>(exitCodes: Readonly<Record<K, number>>) {
  return class extends EngineError<K> {
    constructor(
      kind: K,
      repository: string | undefined,
      message: string,
      options: EngineErrorOptions = {},
    ) {
      super(exitCodes, kind, repository, message, options);
    }
  };
}

/** What a finished command says about itself, as every engine's classification reads it. */
export interface Outcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  aborted: boolean;
  stderr: string;
}

/**
 * The Go network errors both engines pass on from their storage backends. Each engine adds
 * its own phrases (ssh, sftp) to these.
 */
const NETWORK_ERRORS: readonly string[] = [
  "connection refused",
  "no such host",
  "server misbehaving",
  "temporary failure in name resolution",
  "network is unreachable",
  "no route to host",
  "host is down",
  "i/o timeout",
  "connection timed out",
  "connection reset",
  "tls handshake",
  "x509: ",
  "dial tcp",
];

/**
 * What an unreachable repository looks like in lower-cased stderr: the network errors and the
 * engine's own `phrases` (lower case, regex-escaped where needed).
 */
export function unreachablePattern(phrases: readonly string[]): RegExp {
  return new RegExp([...NETWORK_ERRORS, ...phrases].join("|"));
}

/** The last `lines` non-empty lines of stderr, for the error's stderrTail. */
export function stderrTail(stderr: string, lines = 10): string {
  return stderr
    .split("\n")
    .map((l) => l.trimEnd())
    .filter(Boolean)
    .slice(-lines)
    .join("\n");
}

/** A line for a message: at most 300 characters. */
export function clipLine(line: string): string {
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** ": detail", or nothing when there is no detail. */
export function suffix(detail: string | undefined): string {
  return detail ? `: ${detail}` : "";
}

/** The kinds of failure every engine words alike. */
export type CommonFailureKind = "disk-full" | "killed" | "other";

/**
 * The error for a failure every engine words alike: `<program> <action> for repository "x"`
 * ran out of disk space (disk-full), was interrupted (killed), or failed with its exit code
 * (any other kind, made as "other").
 */
export function commonFailure<E>(
  make: (kind: CommonFailureKind, message: string) => E,
  kind: string,
  program: string,
  input: { repoName: string; action: string; exitCode: number | null },
  detail: string,
): E {
  const what = `${program} ${input.action} for repository "${input.repoName}"`;
  if (kind === "disk-full") return make(kind, `${what} ran out of disk space${suffix(detail)}`);
  if (kind === "killed") return make(kind, `${what} was interrupted`);
  const how = input.exitCode === null ? "failed" : `failed (exit ${input.exitCode})`;
  return make("other", `${what} ${how}${suffix(detail)}`);
}

/** The hint for a wrong password: where the password comes from. */
export function passwordHint(repoName: string): string {
  return `check repositories.${repoName}.password_file / password_command`;
}
