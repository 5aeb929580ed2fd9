import { spawn as nodeSpawn, type ChildProcess, type StdioOptions } from "node:child_process";
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import type { Readable, Writable } from "node:stream";
import { ProcessError } from "./error.js";
import { terminate } from "./terminate.js";

/**
 * The only place snapback starts processes. Secrets travel in `env` or `input`, never in
 * `args`: argument lists are visible to every user through /proc.
 */
export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Replace the environment instead of extending process.env. */
  cleanEnv?: boolean;
  cwd?: string;
  /** Written to stdin, then stdin is closed. */
  input?: string | Buffer;
  /** A stream piped to stdin (e.g. a database dump). */
  stdin?: Readable;
  /** When aborted, the process group gets `killSignal` and escalates to SIGKILL. */
  signal?: AbortSignal;
  killSignal?: NodeJS.Signals;
  killGraceMs?: number;
  /** Called for every complete stdout line; stdout is then not buffered in the result. */
  onStdoutLine?: (line: string) => void;
  onStderrLine?: (line: string) => void;
  /** Stream stdout to this writable instead of capturing it. */
  stdoutTo?: Writable;
  /** Exit codes that count as success (default [0]). */
  okExitCodes?: readonly number[];
  /** Never throw on exit status; the caller inspects the result. */
  reject?: boolean;
  /** Cap on captured stdout/stderr (bytes kept from the end). */
  maxBuffer?: number;
  /** Called once the child is started (pid known). */
  onSpawn?: (child: ChildProcess) => void;
  /**
   * The child shares our stdin, stdout, stderr and terminal (a wrapped interactive program:
   * `snapback restic`); nothing is captured. It stays in our process group so that it may
   * read the terminal and gets the terminal's Ctrl-C itself.
   */
  inheritStdio?: boolean;
  /**
   * An open descriptor of ours that the child gets as its fd 3 (`flock 3` locks the open file
   * we keep). Others are never inherited: node opens everything close-on-exec.
   */
  fd3?: number;
}

export interface RunResult {
  command: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  aborted: boolean;
}

const DEFAULT_MAX_BUFFER = 64 * 1024 * 1024;

export function commandLine(file: string, args: readonly string[]): string {
  return [file, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(" ");
}

export function run(
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  if (options.inheritStdio && options.fd3 !== undefined)
    return Promise.reject(new Error("run(): fd3 needs snapback's own stdio, not inheritStdio"));
  const command = commandLine(file, args);
  return new Promise((resolve, reject) => {
    const stdio: StdioOptions = options.inheritStdio
      ? "inherit"
      : [
          options.input !== undefined || options.stdin ? "pipe" : "ignore",
          "pipe",
          "pipe",
          ...(options.fd3 !== undefined ? [options.fd3] : []),
        ];
    let child: ChildProcess;
    try {
      child = nodeSpawn(file, [...args], {
        env: options.cleanEnv ? options.env : { ...process.env, ...options.env },
        cwd: options.cwd,
        stdio,
        detached: options.inheritStdio !== true,
      });
    } catch (cause) {
      reject(
        new ProcessError({ command, exitCode: null, signal: null, stdout: "", stderr: "", cause }),
      );
      return;
    }

    const max = options.maxBuffer ?? DEFAULT_MAX_BUFFER;
    const out = new Capture(max, options.onStdoutLine);
    const err = new Capture(max, options.onStderrLine);
    let aborted = false;
    let spawnError: NodeJS.ErrnoException | undefined;

    const onAbort = (): void => {
      aborted = true;
      terminate(child, options.killSignal ?? "SIGTERM", options.killGraceMs ?? 10_000);
    };
    if (options.signal?.aborted) queueMicrotask(onAbort);
    options.signal?.addEventListener("abort", onAbort, { once: true });

    if (options.stdoutTo) child.stdout?.pipe(options.stdoutTo, { end: false });
    else child.stdout?.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr?.on("data", (chunk: Buffer) => err.push(chunk));
    if (child.stdin) {
      child.stdin.on("error", () => {
        // EPIPE when the program exits without reading all input; its exit status tells.
      });
      if (options.stdin) options.stdin.pipe(child.stdin);
      else child.stdin.end(options.input);
    }
    child.on("spawn", () => options.onSpawn?.(child));
    child.on("error", (e: NodeJS.ErrnoException) => {
      spawnError = e;
    });
    child.on("close", (code, sig) => {
      options.signal?.removeEventListener("abort", onAbort);
      out.flush();
      err.flush();
      const result: RunResult = {
        command,
        exitCode: code,
        signal: sig,
        stdout: out.text(),
        stderr: err.text(),
        aborted,
      };
      if (spawnError) {
        reject(
          new ProcessError({
            ...result,
            ...(spawnError.code === undefined ? {} : { spawnCode: spawnError.code }),
            cause: spawnError,
          }),
        );
        return;
      }
      const ok = code !== null && (options.okExitCodes ?? [0]).includes(code);
      if (ok || options.reject === false) resolve(result);
      else reject(new ProcessError(result));
    });
  });
}

/** Keeps the tail of a stream and splits it into lines for a callback. */
class Capture {
  private chunks: Buffer[] = [];
  private size = 0;
  private partial = "";
  constructor(
    private readonly max: number,
    private readonly onLine?: (line: string) => void,
  ) {}

  push(chunk: Buffer): void {
    if (this.onLine) {
      const text = this.partial + chunk.toString("utf8");
      const lines = text.split("\n");
      this.partial = lines.pop() ?? "";
      for (const line of lines) this.onLine(line);
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.max && this.chunks.length > 1) {
      this.size -= this.chunks.shift()?.length ?? 0;
    }
  }

  flush(): void {
    if (this.onLine && this.partial) this.onLine(this.partial);
    this.partial = "";
  }

  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

/** Is `file` an executable on PATH? */
export async function which(file: string): Promise<string | undefined> {
  // What `command -v` finds for a program, looked up here: a shell per lookup cost every
  // run a process start.
  if (file.includes("/")) return (await isExecutableFile(file)) ? file : undefined;
  for (const dir of (process.env["PATH"] ?? "").split(":")) {
    const path = join(dir === "" ? "." : dir, file);
    if (await isExecutableFile(path)) return isAbsolute(path) ? path : resolve(path);
  }
  return undefined;
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
