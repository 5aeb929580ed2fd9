import type { HookWhen, OnError } from "../config/hooks.js";

/** How one hook invocation ended. */
export interface HookOutcome {
  /** The hook's `name`, or its command line when it has none. */
  name: string;
  when: HookWhen;
  ok: boolean;
  onError: OnError;
  /** null when the program could not start or was killed by a signal. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** The run was interrupted (SIGINT/SIGTERM) while this hook ran. */
  interrupted: boolean;
  /** What went wrong, ready for the user; absent when ok. */
  error?: string;
  /** The last lines the hook printed (stdout and stderr interleaved, secrets redacted). */
  outputTail: string[];
  durationMs: number;
}
