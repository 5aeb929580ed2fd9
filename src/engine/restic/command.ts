import type { ResticRepository } from "../../config/schema.js";
import { redactText } from "../../config/secrets.js";
import { UsageError } from "../../errors.js";
import type { RunResult } from "../../exec/index.js";
import { runEngineCommand } from "../command.js";
import type * as command from "../command.js";
import { probeRestic, type ResticBinary } from "./binary.js";
import { displayUrl, resticEnv, secretValues } from "./env.js";
import { classifyFailure, ResticError } from "./errors.js";
import { repositoryExtraArgs, repositoryTuningArgs, withExtraArgs } from "./tuning.js";
import { watchRetries } from "./retry-watch.js";

/** One repository as the config names it, with its resolved secrets. */
export type ResticTarget = command.EngineTarget;

/** Options every restic command accepts. */
export interface ResticOptions extends command.CommandOptions {
  /** The restic binary (default: restic on PATH). */
  resticPath?: string;
  /** RESTIC_CACHE_DIR; falls back to the repository's cache_dir. */
  cacheDir?: string;
}

export interface ResticRunOptions extends ResticOptions, command.CommandRunOptions {
  progressFps?: number;
  /** A plan's extra_args for this command: after snapback's flags, before the repository's. */
  extraArgs?: readonly string[];
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

/** What restic adds to the engine command runner. */
const RESTIC: command.EngineDriver<ResticRepository, ResticBinary, ResticRunOptions, ResticError> =
  {
    repository: resticRepository,
    probe: (repo, options) => probeRestic(resticBinaryOf(repo, options)),
    prepare(target, repo, binary, args, options) {
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
      return { env, args: full };
    },
    // restic keeps the caller's environment; resticEnv blanks the variables it states itself.
    cleanEnv: false,
    // restic exits 0 only once its work is saved, also when SIGINT came late.
    acceptsAborted: true,
    defaultKillGraceMs: DEFAULT_KILL_GRACE_MS,
    Error: ResticError,
    classify: (target, action, result) => {
      const repo = resticRepository(target);
      return classifyFailure({
        repoName: target.repoName,
        url: displayUrl(repo.url),
        action,
        secrets: secretValues(repo.url, target.secrets),
        exitCode: result.exitCode,
        signal: result.signal,
        aborted: result.aborted,
        stderr: result.stderr,
      });
    },
    watch(target, repo) {
      const stop = new AbortController();
      const retries = watchRetries(target.repoName, () => stop.abort());
      return {
        signal: stop.signal,
        stdout: () => retries.stdout(),
        stderr: (line) => retries.stderr(line),
        dispose: () => retries.dispose(),
        verdict(result) {
          if (retries.gaveUp === undefined) return undefined;
          // Stopped by snapback, not by the user: an unreachable repository, not an interruption.
          const secrets = secretValues(repo.url, target.secrets);
          return new ResticError(
            "unreachable",
            target.repoName,
            `repository "${target.repoName}" at ${displayUrl(repo.url)} is unreachable: ${redactText(retries.gaveUp, secrets)}`,
            { stderrTail: redactText(result.stderr.split("\n").slice(-5).join("\n"), secrets) },
          );
        },
      };
    },
  };

/**
 * The binary, environment and argv `runRestic` would run, for the one caller that runs restic
 * itself: the `snapback restic` wrapper, which hands restic the terminal. Same binary choice,
 * same secrets handling, same tuning flags checked against the version.
 */
export async function prepareRestic(
  target: ResticTarget,
  args: readonly string[],
  options: ResticRunOptions,
): Promise<command.PreparedCommand & { binary: ResticBinary }> {
  const repo = RESTIC.repository(target);
  const binary = await RESTIC.probe(repo, options);
  return { ...RESTIC.prepare(target, repo, binary, args, options), binary };
}

/**
 * Runs restic against one repository: repository and password through the environment,
 * SIGINT on abort (SIGTERM would leave a stale lock), failures classified. Returns the
 * result of an accepted exit code; throws ResticError otherwise.
 */
export function runRestic(
  target: ResticTarget,
  args: readonly string[],
  options: ResticRunOptions,
): Promise<RunResult & { binary: ResticBinary }> {
  return runEngineCommand(RESTIC, target, args, options);
}
