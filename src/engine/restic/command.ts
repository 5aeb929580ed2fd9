import type { Readable, Writable } from "node:stream";
import type { Repository, ResticRepository } from "../../config/schema.js";
import { redactText, type RepositorySecrets } from "../../config/secrets.js";
import { UsageError } from "../../errors.js";
import { ProcessError, run, type RunResult } from "../../exec/index.js";
import type { CommandWrapper } from "../types.js";
import { probeRestic, type ResticBinary } from "./binary.js";
import { displayUrl, resticEnv, secretValues } from "./env.js";
import { classifyFailure, ResticError } from "./errors.js";
import { repositoryExtraArgs, repositoryTuningArgs, withExtraArgs } from "./tuning.js";
import { watchRetries } from "./retry-watch.js";

/** One repository as the config names it, with its resolved secrets. */
export interface ResticTarget {
  repoName: string;
  repo: Repository;
  secrets: RepositorySecrets;
}

/** Options every restic command accepts. */
export interface ResticOptions {
  /** The restic binary (default: restic on PATH). */
  resticPath?: string;
  /** RESTIC_CACHE_DIR; falls back to the repository's cache_dir. */
  cacheDir?: string;
  /** Added to the environment last (TMPDIR, RESTIC_CACHE_DIR inside a view). */
  env?: Record<string, string>;
  signal?: AbortSignal;
  /** How long restic gets after SIGINT to remove its lock before SIGKILL. */
  killGraceMs?: number;
  /** Sees every argv before it runs (verbose logs, tests). Never holds a secret. */
  onCommand?: (file: string, args: readonly string[]) => void;
}

export interface ResticRunOptions extends ResticOptions {
  /** For messages: "backup", "restore", … */
  action: string;
  okExitCodes?: readonly number[];
  progressFps?: number;
  wrap?: CommandWrapper;
  onStdoutLine?: (line: string) => void;
  onStderrLine?: (line: string) => void;
  stdin?: Readable;
  /** A plan's extra_args for this command: after snapback's flags, before the repository's. */
  extraArgs?: readonly string[];
  /** Stream stdout here instead of capturing it (`restic dump` of large files). */
  stdoutTo?: Writable;
}

/** restic needs time after SIGINT to remove its lock from a remote repository. */
export const DEFAULT_KILL_GRACE_MS = 120_000;

/** The binary a command runs: the caller's override, else the repository's `restic_binary`. */
export function resticBinaryOf(
  repo: ResticRepository,
  options: Pick<ResticOptions, "resticPath">,
): string | undefined {
  return options.resticPath ?? repo.restic_binary;
}

export function resticRepository(target: ResticTarget): ResticRepository {
  if (target.repo.engine !== "restic") {
    throw new UsageError(
      `repository "${target.repoName}" uses engine "${target.repo.engine}", not restic`,
    );
  }
  return target.repo;
}

/**
 * The repository's backend options as restic's global `-o KEY=VALUE` flags. They are in
 * argv (restic has no other way to take them), which is why the config forbids secrets there.
 */
export function optionArgs(repo: ResticRepository): string[] {
  return (repo.options ?? []).flatMap((o) => ["-o", o]);
}

/**
 * Runs restic against one repository: repository and password through the environment,
 * SIGINT on abort (SIGTERM would leave a stale lock), failures classified. Returns the
 * result of an accepted exit code; throws ResticError otherwise.
 */
export async function runRestic(
  target: ResticTarget,
  args: readonly string[],
  options: ResticRunOptions,
): Promise<RunResult & { binary: ResticBinary }> {
  const repo = resticRepository(target);
  const binary = await probeRestic(resticBinaryOf(repo, options));
  const env = resticEnv({
    url: repo.url,
    secrets: target.secrets,
    binary,
    cacheDir: options.cacheDir ?? repo.cache_dir,
    progressFps: options.progressFps,
    extra: options.env,
  });
  // The repository's tuning flags are checked against the binary here, so an old restic is
  // refused by the first command of a run (the pre-open), before any `before` hook.
  const full = [
    ...optionArgs(repo),
    ...repositoryTuningArgs(target.repoName, repo, binary),
    ...withExtraArgs(args, [
      ...(options.extraArgs ?? []),
      ...repositoryExtraArgs(repo, options.action),
    ]),
  ];
  const argv = options.wrap ? options.wrap(binary.path, full) : { file: binary.path, args: full };
  options.onCommand?.(argv.file, argv.args);
  const stop = new AbortController();
  const retries = watchRetries(target.repoName, () => stop.abort());
  let result: RunResult;
  try {
    result = await run(argv.file, argv.args, {
      env,
      reject: false,
      killSignal: "SIGINT",
      killGraceMs: options.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
      signal: options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal,
      onStdoutLine: (line) => {
        retries.stdout();
        options.onStdoutLine?.(line);
      },
      onStderrLine: (line) => {
        retries.stderr(line);
        options.onStderrLine?.(line);
      },
      ...(options.stdin ? { stdin: options.stdin } : {}),
      ...(options.stdoutTo ? { stdoutTo: options.stdoutTo } : {}),
    });
  } catch (e) {
    if (e instanceof ProcessError && e.spawnCode !== undefined) {
      const kind = e.spawnCode === "ENOENT" ? "not-found-binary" : "other";
      const what = kind === "other" ? `could not start (${e.spawnCode})` : "program not found";
      throw new ResticError(kind, target.repoName, `${argv.file}: ${what}`, { cause: e });
    }
    throw e;
  } finally {
    retries.dispose();
  }
  if (retries.gaveUp !== undefined && options.signal?.aborted !== true) {
    // Stopped by snapback, not by the user: an unreachable repository, not an interruption.
    const secrets = secretValues(repo.url, target.secrets);
    throw new ResticError(
      "unreachable",
      target.repoName,
      `repository "${target.repoName}" at ${displayUrl(repo.url)} is unreachable: ${redactText(retries.gaveUp, secrets)}`,
      { stderrTail: redactText(result.stderr.split("\n").slice(-5).join("\n"), secrets) },
    );
  }
  const ok = result.exitCode !== null && (options.okExitCodes ?? [0]).includes(result.exitCode);
  if (!ok) {
    throw classifyFailure({
      repoName: target.repoName,
      url: displayUrl(repo.url),
      action: options.action,
      secrets: secretValues(repo.url, target.secrets),
      exitCode: result.exitCode,
      signal: result.signal,
      aborted: result.aborted,
      stderr: result.stderr,
    });
  }
  return { ...result, binary };
}
