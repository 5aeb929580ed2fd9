import type { Repository } from "../../config/schema.js";
import { UsageError } from "../../errors.js";
import type { RunResult } from "../../exec/index.js";
import { runEngineCommand } from "../command.js";
import type * as command from "../command.js";
import { probeKopia, type KopiaBinary } from "./binary.js";
import { kopiaEnv, secretValues } from "./env.js";
import { classifyFailure, KopiaError } from "./errors.js";

export type KopiaRepository = Extract<Repository, { engine: "kopia" }>;

/** One repository as the config names it, with its resolved secrets. */
export type KopiaTarget = command.EngineTarget;

/** Options every kopia command accepts. */
export interface KopiaOptions extends command.CommandOptions {
  /** The kopia binary (default: kopia on PATH). */
  kopiaPath?: string;
  /** KOPIA_LOG_DIR. */
  logDir?: string;
}

export type KopiaRunOptions = KopiaOptions & command.CommandRunOptions;

/** kopia flushes its write session after SIGINT; a remote repository may need a while. */
export const DEFAULT_KILL_GRACE_MS = 120_000;

export function kopiaRepository(target: KopiaTarget): KopiaRepository {
  if (target.repo.engine !== "kopia") {
    throw new UsageError(
      `repository "${target.repoName}" uses engine "${target.repo.engine}", not kopia`,
    );
  }
  return target.repo;
}

/** The argv of a kopia command: the repository's config file first, then the command. */
export function kopiaArgv(repo: KopiaRepository, args: readonly string[]): string[] {
  return [`--config-file=${repo.config_file}`, ...args];
}

export type KopiaResult = RunResult & { binary: KopiaBinary };

/** What kopia adds to the engine command runner. */
const KOPIA: command.EngineDriver<KopiaRepository, KopiaBinary, KopiaRunOptions, KopiaError> = {
  repository: kopiaRepository,
  probe: (_repo, options) => probeKopia(options.kopiaPath),
  prepare: (target, repo, _binary, args, options) => ({
    env: kopiaEnv({ secrets: target.secrets, logDir: options.logDir, extra: options.env }),
    args: kopiaArgv(repo, args),
  }),
  // kopiaEnv is the whole environment: inherited KOPIA_* variables are dropped on purpose.
  cleanEnv: true,
  // kopia cancels the upload on SIGINT: a cancelled run never counts as done, whatever
  // kopia exits with.
  acceptsAborted: false,
  defaultKillGraceMs: DEFAULT_KILL_GRACE_MS,
  Error: KopiaError,
  classify: (target, action, result) => failure(target, action, result),
};

/**
 * Runs kopia against one repository: config file in argv, password in the environment,
 * SIGINT on abort (kopia cancels the upload and closes its session), failures classified.
 * Returns the result of an accepted exit code; throws KopiaError otherwise.
 */
export function runKopia(
  target: KopiaTarget,
  args: readonly string[],
  options: KopiaRunOptions,
): Promise<KopiaResult> {
  return runEngineCommand(KOPIA, target, args, options);
}

/** The classified error for a finished run that did not do its job. */
export function failure(target: KopiaTarget, action: string, result: KopiaResult): KopiaError {
  const repo = kopiaRepository(target);
  return classifyFailure({
    repoName: target.repoName,
    configFile: repo.config_file,
    action,
    exitCode: result.exitCode,
    signal: result.signal,
    aborted: result.aborted,
    stderr: result.stderr,
    secrets: secretValues(target.secrets),
    version: result.binary.version,
  });
}
