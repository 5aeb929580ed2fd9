import { log } from "../log.js";

/**
 * Turns SIGINT/SIGTERM into an AbortSignal for the duration of `fn`. The first signal asks
 * every step to stop (restic gets SIGINT and is waited for); cleanup still runs, so further
 * signals only say so instead of exiting with things left behind.
 */
export async function withInterrupts<T>(
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<{ value: T; interruptedBy: NodeJS.Signals | undefined }> {
  const controller = new AbortController();
  let interruptedBy: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interruptedBy) {
      log.warn(`received ${sig} again: still cleaning up, please wait`);
      return;
    }
    interruptedBy = sig;
    log.warn(`received ${sig}: stopping and cleaning up`);
    controller.abort(new Error(sig));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);
  try {
    const value = await fn(controller.signal);
    return { value, interruptedBy };
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("SIGHUP", onSignal);
  }
}
