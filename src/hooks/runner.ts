import { errorMessage, InterruptedError } from "../errors.js";
import { commandLine, ProcessError, run } from "../exec/index.js";
import { redact } from "../log.js";
import { parseDuration } from "../config/duration.js";
import { hookEnvironment } from "./env.js";
import { HookFailedError } from "./errors.js";
import type { HookRunStatus, RunFacts } from "./facts.js";
import type { HookOutcome } from "./outcome.js";
import {
  DEFAULT_HOOK_TIMEOUT,
  effectiveOnError,
  type HookConfig,
  type HookWhen,
} from "../config/hooks.js";

export interface HookLineInfo {
  name: string;
  when: HookWhen;
  stream: "stdout" | "stderr";
}

export interface HookCallbacks {
  /** Every line a hook prints (secrets redacted). */
  onOutput?: (line: string, hook: HookLineInfo) => void;
  /** A hook with on_error = "continue" failed, or a second failure hid behind a first. */
  onWarning?: (message: string) => void;
}

export interface HookRunnerOptions {
  /** Values that must reach neither a hook's environment nor its reported output. */
  secretValues?: readonly string[];
  /** Between SIGTERM and SIGKILL when a hook times out or is interrupted (default 10 s). */
  killGraceMs?: number;
  /** The environment hooks inherit (default process.env), secrets removed. */
  baseEnv?: NodeJS.ProcessEnv;
  /** Output lines kept per hook for messages and the log tail (default 20). */
  tailLines?: number;
}

const NAME_MAX = 60;
const DEFAULT_TIMEOUT_MS = parseDuration(DEFAULT_HOOK_TIMEOUT) ?? 300_000;

/**
 * Runs a plan's hooks at the five points of a run. Independent of the rest of the run: the
 * caller says when, and what is known so far.
 *
 * Within one point hooks run one after another in config order. A failing `before` hook with
 * on_error = "fail" stops the remaining `before` hooks (the run is going to abort anyway); at
 * every other point all hooks run — each may restart a different service — and the first
 * failure is thrown afterwards.
 *
 * A hook is finished when its output closes, not only when its first process exits: a hook that
 * leaves a process running must redirect that process's output (`… >/dev/null 2>&1 &`), or it
 * is killed with the hook's process group at the timeout.
 */
export class HookRunner {
  private readonly secretValues: readonly string[];
  private readonly killGraceMs: number;
  private readonly baseEnv: NodeJS.ProcessEnv;
  private readonly tailLines: number;

  constructor(
    private readonly plan: string,
    private readonly hooks: readonly HookConfig[],
    private readonly callbacks: HookCallbacks = {},
    options: HookRunnerOptions = {},
  ) {
    this.secretValues = (options.secretValues ?? []).filter((s) => s.length >= 3);
    this.killGraceMs = options.killGraceMs ?? 10_000;
    this.baseEnv = options.baseEnv ?? process.env;
    this.tailLines = options.tailLines ?? 20;
  }

  has(when: HookWhen): boolean {
    return this.hooks.some((h) => h.when === when);
  }

  /**
   * Runs the hooks of one point. Throws HookFailedError when a hook with on_error = "fail"
   * failed; failures of "continue" hooks become warnings. `signal` (the run's interrupt) is
   * meant for `before` only: hooks that restart services or report the outcome must not be
   * cut short by the interrupt that they are there to report.
   */
  async run(when: HookWhen, facts: RunFacts, signal?: AbortSignal): Promise<HookOutcome[]> {
    const outcomes: HookOutcome[] = [];
    const failures: HookOutcome[] = [];
    for (const hook of this.hooks) {
      if (hook.when !== when) continue;
      if (signal?.aborted) break;
      const outcome = await this.runOne(hook, when, facts, signal);
      outcomes.push(outcome);
      if (outcome.ok) continue;
      // Reported as the interruption below, not as the hook's failure.
      if (outcome.interrupted) break;
      if (outcome.onError === "continue") {
        this.callbacks.onWarning?.(`${outcome.error ?? ""} (on_error = "continue": carrying on)`);
        continue;
      }
      failures.push(outcome);
      if (when === "before") break;
    }
    if (failures.length > 0) throw new HookFailedError(when, failures, outcomes);
    // Whatever follows `before` (the snapshots) must not start once the run is interrupted.
    if (signal?.aborted) throw new InterruptedError(abortReason(signal));
    return outcomes;
  }

  /**
   * `before` hooks, then `take` (the snapshots), then `after_snapshot` hooks — which run even
   * when a `before` hook or `take` failed or the run was interrupted, so that a service stopped
   * by a `before` hook is started again. The first error wins; a later after_snapshot failure
   * is then reported as a warning.
   */
  async aroundSnapshots<T>(
    facts: RunFacts,
    take: () => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    let value: T;
    try {
      await this.run("before", facts, signal);
      value = await take();
    } catch (e) {
      await this.afterSnapshot(facts, { error: e });
      throw e;
    }
    await this.afterSnapshot(facts);
    return value;
  }

  /**
   * The `after_snapshot` hooks, for a caller that runs `before` and the snapshots as steps of
   * its own (the run's pipeline). After a failure (`failed`) they still run, told the error,
   * and a failure of theirs becomes a warning: the first error wins.
   */
  async afterSnapshot(facts: RunFacts, failed?: { error: unknown }): Promise<void> {
    if (failed === undefined) {
      await this.run("after_snapshot", facts);
      return;
    }
    try {
      await this.run("after_snapshot", {
        ...facts,
        error: facts.error ?? errorMessage(failed.error),
      });
    } catch (after) {
      this.callbacks.onWarning?.(errorMessage(after));
    }
  }

  /**
   * The end of a run: `success` hooks (status success or partial: a backup exists) or
   * `failure` hooks (failed or interrupted), then `finally` hooks whatever happened. Throws the
   * first HookFailedError after all of them ran.
   */
  async finish(facts: RunFacts & { status: HookRunStatus }): Promise<HookOutcome[]> {
    const outcomes: HookOutcome[] = [];
    let first: HookFailedError | undefined;
    const point: HookWhen =
      facts.status === "success" || facts.status === "partial" ? "success" : "failure";
    for (const when of [point, "finally"] as const) {
      try {
        outcomes.push(...(await this.run(when, facts)));
      } catch (e) {
        // Without an abort signal, run() fails only with HookFailedError.
        if (!(e instanceof HookFailedError)) throw e;
        outcomes.push(...e.outcomes);
        if (first === undefined) first = e;
        else this.callbacks.onWarning?.(e.message);
      }
    }
    if (first !== undefined) throw first;
    return outcomes;
  }

  private async runOne(
    hook: HookConfig,
    when: HookWhen,
    facts: RunFacts,
    signal: AbortSignal | undefined,
  ): Promise<HookOutcome> {
    const name = hookName(hook);
    const label = `${when} hook ${name}`;
    const [file, ...args] =
      hook.shell !== undefined ? ["/bin/sh", "-c", hook.shell] : (hook.run ?? []);
    const onError = effectiveOnError(hook);
    const timeoutText = hook.timeout || DEFAULT_HOOK_TIMEOUT;
    const timeout = AbortSignal.timeout(parseDuration(timeoutText) ?? DEFAULT_TIMEOUT_MS);
    const abort = signal ? AbortSignal.any([timeout, signal]) : timeout;
    const tail: string[] = [];
    const onLine =
      (stream: HookLineInfo["stream"]) =>
      (raw: string): void => {
        const line = this.scrub(raw);
        if (line.trim() !== "") {
          tail.push(line);
          if (tail.length > this.tailLines) tail.shift();
        }
        this.callbacks.onOutput?.(line, { name, when, stream });
      };
    const base = { name, when, onError, outputTail: tail };
    const started = performance.now();
    const elapsed = (): number => Math.round(performance.now() - started);

    if (file === undefined) {
      // The schema refuses this; a hand-built config might not.
      return {
        ...base,
        ok: false,
        exitCode: null,
        signal: null,
        timedOut: false,
        interrupted: false,
        error: `${label}: no command (set run or shell)`,
        durationMs: 0,
      };
    }

    try {
      const r = await run(file, args, {
        cleanEnv: true,
        env: hookEnvironment({
          plan: this.plan,
          when,
          hookName: name,
          facts,
          base: this.baseEnv,
          secretValues: this.secretValues,
        }),
        signal: abort,
        killSignal: "SIGTERM",
        killGraceMs: this.killGraceMs,
        onStdoutLine: onLine("stdout"),
        onStderrLine: onLine("stderr"),
        reject: false,
        // Lines go to the callback and the tail; the buffered copy is not used.
        maxBuffer: 64 * 1024,
      });
      const ok = r.exitCode === 0 && r.signal === null;
      const timedOut = !ok && r.aborted && timeout.aborted;
      const interrupted = !ok && r.aborted && !timedOut;
      const outcome = {
        ...base,
        ok,
        exitCode: r.exitCode,
        signal: r.signal,
        timedOut,
        interrupted,
        durationMs: elapsed(),
      };
      if (ok) return outcome;
      let error: string;
      if (timedOut) error = `${label} timed out after ${timeoutText}`;
      else if (interrupted) error = `${label} was interrupted`;
      else if (r.signal !== null) error = `${label} was killed by ${r.signal}`;
      else error = `${label} exited with code ${r.exitCode ?? "?"}`;
      const last = tail.slice(-3).join("\n");
      return { ...outcome, error: last && !timedOut && !interrupted ? `${error}: ${last}` : error };
    } catch (e) {
      const code = e instanceof ProcessError ? e.spawnCode : undefined;
      const why =
        code === "ENOENT"
          ? `program not found: ${file}`
          : code === "EACCES"
            ? `${file} is not executable`
            : `could not start ${file}: ${code ?? errorMessage(e)}`;
      return {
        ...base,
        ok: false,
        exitCode: null,
        signal: null,
        timedOut: false,
        interrupted: false,
        error: `${label}: ${why}`,
        durationMs: elapsed(),
      };
    }
  }

  private scrub(text: string): string {
    let out = redact(text);
    for (const s of this.secretValues) out = out.split(s).join("***");
    return out;
  }
}

function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason.message : "a signal";
}

/** The hook's name, or its command line (quoted, shortened) when it has none. */
export function hookName(hook: Pick<HookConfig, "name" | "run" | "shell">): string {
  if (hook.name !== undefined) return hook.name;
  const text = hook.shell ?? commandLine(hook.run?.[0] ?? "", hook.run?.slice(1) ?? []);
  const oneLine = text.replace(/\s+/g, " ").trim();
  return JSON.stringify(oneLine.length > NAME_MAX ? `${oneLine.slice(0, NAME_MAX - 1)}…` : oneLine);
}

/** One line per hook for --dry-run. */
export function describeHooks(hooks: readonly HookConfig[]): string[] {
  return hooks.map((h) => {
    const cmd =
      h.shell !== undefined
        ? `/bin/sh -c ${JSON.stringify(h.shell)}`
        : commandLine(h.run?.[0] ?? "", h.run?.slice(1) ?? []);
    const label = h.name !== undefined ? `${h.name}: ` : "";
    return `${h.when} hook ${label}${cmd} (timeout ${h.timeout || DEFAULT_HOOK_TIMEOUT}, on_error ${effectiveOnError(h)})`;
  });
}
