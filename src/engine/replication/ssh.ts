import { mkdir } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { SnapbackError } from "../../errors.js";
import {
  commandLine,
  ProcessError,
  run,
  type PipelineStage,
  type RunOptions,
  type RunResult,
} from "../../exec/index.js";

/**
 * Where a replication target's commands run: here, or on another machine through ssh. Every
 * command is an argv; for ssh it is quoted into the one string the remote shell parses, so a
 * path with spaces or quotes arrives intact.
 */
export interface Host {
  /** "this machine" or the ssh destination, for messages. */
  readonly label: string;
  readonly remote: boolean;
  /** The process that runs `argv` on the host (a pipeline stage or a run()). */
  command(argv: readonly string[]): PipelineStage;
  /** Runs `argv` on the host; ssh's own failures (exit 255) become a clear error. */
  run(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** `mkdir -p` on the host; on this machine without a process. */
  mkdir(dir: string, signal?: AbortSignal): Promise<void>;
}

const SAFE = /^[\w@%+=:,./-]+$/;

export function shellQuote(args: readonly string[]): string {
  return args
    .map((a) => (a !== "" && SAFE.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))
    .join(" ");
}

export const localHost: Host = {
  label: "this machine",
  remote: false,
  command: ([file = "", ...args]) => ({ file, args }),
  run: ([file = "", ...args], options) => run(file, args, options),
  mkdir: async (dir) => {
    await mkdir(dir, { recursive: true });
  },
};

/**
 * `ssh [options] destination -- command`. BatchMode: a run that would wait for a password or
 * a host key confirmation fails at once instead of hanging.
 */
export function sshHost(
  destination: string,
  options: readonly string[] = [],
  what = destination,
): Host {
  const base = ["-o", "BatchMode=yes", ...options, "--", destination];
  const host: Host = {
    label: destination,
    remote: true,
    command: (argv) => ({ file: "ssh", args: [...base, shellQuote(argv)] }),
    async run(argv, runOptions) {
      const c = host.command(argv);
      let r = await run(c.file, c.args, { ...runOptions, reject: false });
      // A connection dropped before the session began ran nothing: try again, briefly.
      const retryable = runOptions?.stdin === undefined && runOptions?.input === undefined;
      for (let attempt = 1; retryable && attempt < 3 && droppedEarly(r); attempt++) {
        await sleep(500 * attempt);
        r = await run(c.file, c.args, { ...runOptions, reject: false });
      }
      if (r.exitCode === 255 && !r.aborted) {
        throw new SnapbackError(
          `cannot reach ${what} over ssh: ${tail(r.stderr) || "ssh failed"}`,
          {
            hint: "check the repository's ssh and ssh_options (key, port, known_hosts); ssh runs with BatchMode=yes",
          },
        );
      }
      const ok = r.exitCode !== null && (runOptions?.okExitCodes ?? [0]).includes(r.exitCode);
      if (!ok && runOptions?.reject !== false) {
        throw new ProcessError({
          ...r,
          command: `${commandLine("ssh", [destination])} ${shellQuote(argv)}`,
        });
      }
      return r;
    },
    async mkdir(dir, signal) {
      await host.run(["mkdir", "-p", dir], signal ? { signal } : {});
    },
  };
  return host;
}

function droppedEarly(r: RunResult): boolean {
  return (
    r.exitCode === 255 &&
    !r.aborted &&
    /kex_exchange_identification|Connection reset by|Connection closed by/i.test(r.stderr)
  );
}

function tail(text: string): string {
  return text.trim().split("\n").slice(-2).join("; ");
}
