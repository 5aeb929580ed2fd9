import type { Repository } from "../../config/schema.js";
import type { RepositorySecrets } from "../../config/secrets.js";
import { UsageError } from "../../errors.js";
import { ProcessError, run, type RunResult } from "../../exec/index.js";
import type { CommandWrapper } from "../types.js";
import { probeKopia, type KopiaBinary } from "./binary.js";
import { kopiaEnv, secretValues } from "./env.js";
import { classifyFailure, KopiaError } from "./errors.js";

export type KopiaRepository = Extract<Repository, { engine: "kopia" }>;

/** One repository as the config names it, with its resolved secrets. */
export interface KopiaTarget {
  repoName: string;
  repo: Repository;
  secrets: RepositorySecrets;
}

/** Options every kopia command accepts. */
export interface KopiaOptions {
  /** The kopia binary (default: kopia on PATH). */
  kopiaPath?: string;
  /** KOPIA_LOG_DIR. */
  logDir?: string;
  /** Added to the environment last (TMPDIR inside a view). */
  env?: Record<string, string>;
  signal?: AbortSignal;
  /** How long kopia gets after SIGINT to flush and close its session before SIGKILL. */
  killGraceMs?: number;
  /** Sees every argv before it runs (verbose logs, tests). Never holds a secret. */
  onCommand?: (file: string, args: readonly string[]) => void;
}

export interface KopiaRunOptions extends KopiaOptions {
  /** For messages: "snapshot create", "restore", … */
  action: string;
  okExitCodes?: readonly number[];
  wrap?: CommandWrapper;
  onStdoutLine?: (line: string) => void;
  onStderrLine?: (line: string) => void;
}

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

/**
 * Runs kopia against one repository: config file in argv, password in the environment,
 * SIGINT on abort (kopia cancels the upload and closes its session), failures classified.
 * Returns the result of an accepted exit code; throws KopiaError otherwise.
 */
export async function runKopia(
  target: KopiaTarget,
  args: readonly string[],
  options: KopiaRunOptions,
): Promise<KopiaResult> {
  const repo = kopiaRepository(target);
  const binary = await probeKopia(options.kopiaPath);
  const env = kopiaEnv({ secrets: target.secrets, logDir: options.logDir, extra: options.env });
  const full = kopiaArgv(repo, args);
  const argv = options.wrap ? options.wrap(binary.path, full) : { file: binary.path, args: full };
  options.onCommand?.(argv.file, argv.args);
  let result: RunResult;
  try {
    result = await run(argv.file, argv.args, {
      env,
      cleanEnv: true,
      reject: false,
      killSignal: "SIGINT",
      killGraceMs: options.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onStdoutLine ? { onStdoutLine: options.onStdoutLine } : {}),
      ...(options.onStderrLine ? { onStderrLine: options.onStderrLine } : {}),
    });
  } catch (e) {
    if (e instanceof ProcessError && e.spawnCode !== undefined) {
      const kind = e.spawnCode === "ENOENT" ? "not-found-binary" : "other";
      const what = kind === "other" ? `could not start (${e.spawnCode})` : "program not found";
      throw new KopiaError(kind, target.repoName, `${argv.file}: ${what}`, { cause: e });
    }
    throw e;
  }
  const ok =
    !result.aborted &&
    result.exitCode !== null &&
    (options.okExitCodes ?? [0]).includes(result.exitCode);
  if (!ok) throw failure(target, options.action, { ...result, binary });
  return { ...result, binary };
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
