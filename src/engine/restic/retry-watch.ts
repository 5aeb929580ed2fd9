import { log } from "../../log.js";

/**
 * restic 0.17+ retries a failing backend for up to 15 minutes ("Stat(<config/>) returned error,
 * retrying after 32s: … connection refused"), where 0.14 gave up at once. A nightly run must
 * not hang that long on a repository that is down, so snapback watches those lines:
 * - before restic has reached the repository at all, a refused connection or an unknown host
 *   ends the command at once — the same verdict 0.14 gave, just as fast;
 * - after that (a server restarting mid-backup), restic gets RETRY_DEADLINE_MS to get through.
 * Every retry is logged, so the user sees what the run is waiting for.
 */
export const RETRY_DEADLINE_MS = 120_000;

const RETRY_LINE = /returned error, retrying after ([^:]+): (.*)$/;
const DEFINITIVE = /connection refused|no such host|network is unreachable|no route to host/i;
/** restic's line once the repository answered ("repository 1a2b3c4d opened (version 2, …)"). */
const OPENED = /^repository [0-9a-f]+ opened/;

export interface RetryWatch {
  /** Feed every stderr line. */
  stderr(line: string): void;
  /** Any stdout line means the repository answered. */
  stdout(): void;
  /** Set when snapback stopped restic: the repository is unreachable. */
  readonly gaveUp: string | undefined;
  dispose(): void;
}

export function watchRetries(
  repoName: string,
  stop: () => void,
  deadlineMs = RETRY_DEADLINE_MS,
): RetryWatch {
  let reached = false;
  let timer: NodeJS.Timeout | undefined;
  let gaveUp: string | undefined;
  const giveUp = (why: string): void => {
    if (gaveUp !== undefined) return;
    gaveUp = why;
    log.warn(`repository "${repoName}": giving up: ${why}`);
    stop();
  };
  return {
    stderr(line) {
      const text = line.trim();
      if (OPENED.test(text)) reached = true;
      const m = RETRY_LINE.exec(text);
      if (!m) return;
      const cause = m[2] ?? "";
      if (!reached && DEFINITIVE.test(cause)) {
        giveUp(`restic cannot reach it (${shortCause(cause)})`);
        return;
      }
      log.warn(
        `repository "${repoName}": restic retries in ${m[1] ?? "?"} (${shortCause(cause)}); snapback stops it ${Math.round(deadlineMs / 1000)} s after the first retry`,
      );
      timer ??= setTimeout(
        () => giveUp(`still failing after ${Math.round(deadlineMs / 1000)} s of retries`),
        deadlineMs,
      );
    },
    stdout() {
      reached = true;
    },
    get gaveUp() {
      return gaveUp;
    },
    dispose() {
      if (timer) clearTimeout(timer);
    },
  };
}

/** "Head "http://…/config": dial tcp 127.0.0.1:1: connect: connection refused" → the tail. */
function shortCause(cause: string): string {
  const parts = cause.split(": ");
  return parts.slice(-2).join(": ");
}
