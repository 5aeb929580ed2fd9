import type { Readable, Writable } from "node:stream";
import type { Repository } from "../config/schema.js";
import type { RepositorySecrets } from "../config/secrets.js";
import type { SnapbackError } from "../errors.js";
import { ProcessError, run, type RunResult } from "../exec/index.js";
import type { EngineErrorOptions, StartFailureKind } from "./errors.js";
import type { CommandWrapper } from "./types.js";

/** One repository as the config names it, with its resolved secrets. */
export interface EngineTarget {
  repoName: string;
  repo: Repository;
  secrets: RepositorySecrets;
}

/** Options every engine command accepts. */
export interface CommandOptions {
  /** Added to the environment last (TMPDIR and the like inside a view). */
  env?: Record<string, string>;
  signal?: AbortSignal;
  /** How long the engine gets after its stop signal to clean up before SIGKILL. */
  killGraceMs?: number;
  /** Sees every argv before it runs (verbose logs, tests). Never holds a secret. */
  onCommand?: (file: string, args: readonly string[]) => void;
}

export interface CommandRunOptions extends CommandOptions {
  /** For messages: "backup", "snapshot create", … */
  action: string;
  okExitCodes?: readonly number[];
  wrap?: CommandWrapper;
  onStdoutLine?: (line: string) => void;
  onStderrLine?: (line: string) => void;
  stdin?: Readable;
  /** Stream stdout here instead of capturing it. */
  stdoutTo?: Writable;
}

/**
 * Watches one running command and may stop it early (restic's retry watch); after the run its
 * verdict, when it has one, replaces the classification of the exit.
 */
export interface CommandWatch {
  signal: AbortSignal;
  stdout(line: string): void;
  stderr(line: string): void;
  verdict(result: RunResult): SnapbackError | undefined;
  dispose(): void;
}

/** The environment and argv of one command, as the engine builds them for its binary. */
export interface PreparedCommand {
  env: Record<string, string>;
  args: string[];
}

/** What one engine adds to the runner: its repository kind, binary, environment and errors. */
export interface EngineDriver<
  R extends Repository,
  B extends { path: string },
  O extends CommandRunOptions,
  E extends SnapbackError,
> {
  /** The repository of the target, refused when it is another engine's. */
  repository(target: EngineTarget): R;
  probe(repo: R, options: O): Promise<B>;
  /** Environment (secrets only here, never in argv) and the full argv for `args`. */
  prepare(
    target: EngineTarget,
    repo: R,
    binary: B,
    args: readonly string[],
    options: O,
  ): PreparedCommand;
  /** Only `env`, nothing inherited (kopia); else the process's environment plus `env`. */
  cleanEnv: boolean;
  /**
   * Whether a run that snapback stopped still counts when its exit code is accepted: restic
   * exits 0 only once its work is saved; kopia's own judgment is not trusted after SIGINT.
   */
  acceptsAborted: boolean;
  /** How long the engine gets after SIGINT when the caller does not say. */
  defaultKillGraceMs: number;
  /** The engine's error class (for a binary that could not be started at all). */
  Error: new (
    kind: StartFailureKind,
    repository: string | undefined,
    message: string,
    options: EngineErrorOptions,
  ) => E;
  /** The classified error of a finished run whose exit was not accepted. */
  classify(target: EngineTarget, action: string, result: RunResult & { binary: B }): E;
  /** Per-command watch (optional). */
  watch?(target: EngineTarget, repo: R): CommandWatch;
}

/**
 * Runs one engine command against one repository: the engine's environment and argv, spawn
 * through src/exec with SIGINT on abort, failures classified by the engine.
 * Returns the result of an accepted exit code; throws the engine's error otherwise.
 */
export async function runEngineCommand<
  R extends Repository,
  B extends { path: string },
  O extends CommandRunOptions,
  E extends SnapbackError,
>(
  driver: EngineDriver<R, B, O, E>,
  target: EngineTarget,
  args: readonly string[],
  options: O,
): Promise<RunResult & { binary: B }> {
  const repo = driver.repository(target);
  const binary = await driver.probe(repo, options);
  const prepared = driver.prepare(target, repo, binary, args, options);
  const argv = options.wrap
    ? options.wrap(binary.path, prepared.args)
    : { file: binary.path, args: prepared.args };
  options.onCommand?.(argv.file, argv.args);
  const watch = driver.watch?.(target, repo);
  const signals = [options.signal, watch?.signal].filter((s) => s !== undefined);
  const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
  const onStdoutLine = watch
    ? (line: string) => {
        watch.stdout(line);
        options.onStdoutLine?.(line);
      }
    : options.onStdoutLine;
  const onStderrLine = watch
    ? (line: string) => {
        watch.stderr(line);
        options.onStderrLine?.(line);
      }
    : options.onStderrLine;
  let result: RunResult;
  try {
    result = await run(argv.file, argv.args, {
      env: prepared.env,
      ...(driver.cleanEnv ? { cleanEnv: true } : {}),
      reject: false,
      // Both engines clean up after SIGINT (restic removes its lock, kopia closes its
      // session); SIGTERM would leave that behind.
      killSignal: "SIGINT",
      killGraceMs: options.killGraceMs ?? driver.defaultKillGraceMs,
      ...(signal ? { signal } : {}),
      ...(onStdoutLine ? { onStdoutLine } : {}),
      ...(onStderrLine ? { onStderrLine } : {}),
      ...(options.stdin ? { stdin: options.stdin } : {}),
      ...(options.stdoutTo ? { stdoutTo: options.stdoutTo } : {}),
    });
  } catch (e) {
    if (e instanceof ProcessError && e.spawnCode !== undefined) {
      const kind = e.spawnCode === "ENOENT" ? "not-found-binary" : "other";
      const what = kind === "other" ? `could not start (${e.spawnCode})` : "program not found";
      throw new driver.Error(kind, target.repoName, `${argv.file}: ${what}`, { cause: e });
    }
    throw e;
  } finally {
    watch?.dispose();
  }
  // The watch stopped it, not the user: its verdict says why.
  if (options.signal?.aborted !== true) {
    const verdict = watch?.verdict(result);
    if (verdict) throw verdict;
  }
  const accepted =
    (driver.acceptsAborted || !result.aborted) &&
    result.exitCode !== null &&
    (options.okExitCodes ?? [0]).includes(result.exitCode);
  if (!accepted) throw driver.classify(target, options.action, { ...result, binary });
  return { ...result, binary };
}
