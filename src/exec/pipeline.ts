import { spawn as nodeSpawn, type ChildProcess, type StdioOptions } from "node:child_process";
import type { Writable } from "node:stream";
import { ProcessError } from "./error.js";
import { commandLine, type RunResult } from "./spawn.js";
import { terminate } from "./terminate.js";

/**
 * `a | b | c` without a shell and without the data ever entering this process: each stage's
 * stdout is the next stage's stdin at the OS level (the receiving end of the pipe node made for
 * the next stage is handed to the previous stage as its stdout, and our copy is closed). A
 * `btrfs send` of hundreds of gigabytes goes straight into `btrfs receive` or `ssh`.
 */
export interface PipelineStage {
  file: string;
  args: readonly string[];
  /** Extra environment for this stage (secrets travel here, never in args). */
  env?: NodeJS.ProcessEnv;
}

export interface PipelineOptions {
  /** When aborted, every stage's process group gets `killSignal`, escalating to SIGKILL. */
  signal?: AbortSignal;
  killSignal?: NodeJS.Signals;
  killGraceMs?: number;
  /** Called once every stage is started, first stage first (pids for tests and progress). */
  onSpawn?: (children: readonly ChildProcess[]) => void;
  /** Never throw on exit status; the caller inspects the result. */
  reject?: boolean;
  /** Cap on the stderr (and last stage's stdout) kept per stage, bytes from the end. */
  maxBuffer?: number;
}

export interface PipelineResult {
  /** `a … | b …` */
  command: string;
  /** One result per stage, in pipeline order. */
  stages: RunResult[];
  aborted: boolean;
}

const DEFAULT_MAX_BUFFER = 1024 * 1024;

/** A pipeline in which some stage failed; carries every stage's exit status and stderr. */
export class PipelineError extends ProcessError {
  readonly stages: readonly RunResult[];

  constructor(result: PipelineResult, cause?: unknown) {
    const failed = failedStages(result.stages);
    const first = failed[0] ?? result.stages[0];
    super({
      command: result.command,
      exitCode: first?.exitCode ?? null,
      signal: first?.signal ?? null,
      stdout: "",
      stderr: result.stages.map((s) => labelled(s)).join(""),
      ...(cause === undefined ? {} : { cause }),
    });
    this.stages = result.stages;
    this.message = `${result.command} failed: ${failed.map(describeStage).join("; ")}`;
  }
}

export function pipelineCommand(stages: readonly PipelineStage[]): string {
  return stages.map((s) => commandLine(s.file, s.args)).join(" | ");
}

export function pipeline(
  stages: readonly PipelineStage[],
  options: PipelineOptions = {},
): Promise<PipelineResult> {
  if (stages.length < 2) throw new Error("a pipeline needs at least two stages");
  const command = pipelineCommand(stages);
  const max = options.maxBuffer ?? DEFAULT_MAX_BUFFER;
  const children: (ChildProcess | undefined)[] = stages.map(() => undefined);
  const spawnErrors: (NodeJS.ErrnoException | undefined)[] = stages.map(() => undefined);

  // Last stage first: its stdin pipe must exist before the stage that writes into it starts.
  for (let i = stages.length - 1; i >= 0; i--) {
    const stage = stages[i];
    if (!stage) continue;
    const next = children[i + 1];
    const stdin = i === 0 ? "ignore" : "pipe";
    const stdout: "pipe" | Writable | "ignore" =
      i === stages.length - 1 ? "pipe" : (next?.stdin ?? "ignore");
    const stdio: StdioOptions = [stdin, stdout, "pipe"];
    try {
      const child = nodeSpawn(stage.file, [...stage.args], {
        env: { ...process.env, ...stage.env },
        stdio,
        detached: true,
      });
      const index = i;
      // Start failures (ENOENT) arrive as an event, possibly before anyone else listens.
      child.on("error", (e: NodeJS.ErrnoException) => (spawnErrors[index] ??= e));
      children[i] = child;
    } catch (e) {
      spawnErrors[i] = e as NodeJS.ErrnoException;
    }
    // Our copy of the next stage's stdin must go, or it would never see end of input.
    next?.stdin?.destroy();
    // A stage that did not start leaves nothing to write into; the ones after it see EOF.
    if (children[i]?.pid === undefined) {
      for (let j = i - 1; j >= 0; j--) spawnErrors[j] ??= notStarted();
      children[i]?.stdin?.destroy();
      break;
    }
  }

  return new Promise((resolve, reject) => {
    let aborted = false;
    const onAbort = (): void => {
      aborted = true;
      for (const c of children) {
        if (c) terminate(c, options.killSignal ?? "SIGTERM", options.killGraceMs ?? 10_000);
      }
    };
    if (options.signal?.aborted) queueMicrotask(onAbort);
    options.signal?.addEventListener("abort", onAbort, { once: true });

    const started = children.filter((c): c is ChildProcess => c?.pid !== undefined);
    if (started.length === stages.length) options.onSpawn?.(started);

    const results = stages.map((stage, i) => {
      const child = children[i];
      const stageCommand = commandLine(stage.file, stage.args);
      if (!child) {
        const e = spawnErrors[i];
        return Promise.resolve<StageOutcome>({
          result: {
            command: stageCommand,
            exitCode: null,
            signal: null,
            stdout: "",
            stderr: "",
            aborted,
          },
          ...(e ? { spawnError: e } : {}),
        });
      }
      return new Promise<StageOutcome>((done) => {
        const err = new Tail(max);
        const out = new Tail(max);
        child.stderr?.on("data", (c: Buffer) => err.push(c));
        if (i === stages.length - 1) child.stdout?.on("data", (c: Buffer) => out.push(c));
        child.on("close", (code, sig) => {
          const spawnError = spawnErrors[i];
          done({
            result: {
              command: stageCommand,
              exitCode: code,
              signal: sig,
              stdout: out.text(),
              stderr: err.text(),
              aborted,
            },
            ...(spawnError ? { spawnError } : {}),
          });
        });
      });
    });

    void Promise.all(results).then((outcomes) => {
      options.signal?.removeEventListener("abort", onAbort);
      const result: PipelineResult = {
        command,
        stages: outcomes.map((o) => ({ ...o.result, aborted })),
        aborted,
      };
      const spawnError = outcomes.find((o) => o.spawnError)?.spawnError;
      const ok = !spawnError && result.stages.every((s) => s.exitCode === 0);
      if (ok || options.reject === false) resolve(result);
      else {
        // A stage that could not start reads like a missing program, as with run().
        outcomes.forEach((o, i) => {
          const stage = result.stages[i];
          const e = o.spawnError;
          if (!stage || !e || e.code === "ENOTSTARTED") return;
          stage.exitCode = null;
          stage.stderr ||= e.code === "ENOENT" ? "program not found" : e.message;
        });
        reject(new PipelineError(result, spawnError));
      }
    });
  });
}

interface StageOutcome {
  result: RunResult;
  spawnError?: NodeJS.ErrnoException;
}

function notStarted(): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error("not started: a later stage could not start");
  e.code = "ENOTSTARTED";
  return e;
}

/**
 * The stages to blame, most likely cause first: a writer killed by SIGPIPE (or complaining of
 * a broken pipe) only failed because its reader had already gone.
 */
function failedStages(stages: readonly RunResult[]): RunResult[] {
  const failed = stages.filter((s) => s.exitCode !== 0);
  const consequence = (s: RunResult): boolean =>
    s.signal === "SIGPIPE" || /broken pipe|connection reset by peer/i.test(s.stderr);
  return [...failed.filter((s) => !consequence(s)), ...failed.filter(consequence)];
}

function describeStage(s: RunResult): string {
  const how = s.signal
    ? `was killed by ${s.signal}`
    : s.exitCode === null
      ? "did not start"
      : `exited with code ${s.exitCode}`;
  const tail = s.stderr.trim().split("\n").slice(-3).join(" / ").trim();
  return `${name(s.command)} ${how}${tail ? ` (${tail})` : ""}`;
}

function labelled(s: RunResult): string {
  const text = s.stderr.trim();
  return text
    ? `${text
        .split("\n")
        .map((l) => `[${name(s.command)}] ${l}`)
        .join("\n")}\n`
    : "";
}

/** "btrfs receive" for `btrfs receive /x`; "ssh" for ssh: short enough for a message. */
function name(command: string): string {
  const [file = "", sub] = command.split(" ");
  return sub && /^[a-z][a-z-]*$/.test(sub) && file !== "ssh" ? `${file} ${sub}` : file;
}

class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly max: number) {}
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.max && this.chunks.length > 1)
      this.size -= this.chunks.shift()?.length ?? 0;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}
