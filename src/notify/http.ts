import { setTimeout as sleep } from "node:timers/promises";

/** One request to a notification receiver. */
export interface HttpRequest {
  method: "GET" | "POST";
  url: URL;
  headers: Record<string, string>;
  body?: string;
  /**
   * Values that must not appear in a failure reason (tokens, header values, URL paths). The
   * reason is built here from error codes, but a library message may quote what it was given.
   */
  secrets: readonly string[];
}

export interface SendOptions {
  /** Seconds one attempt may take until the response headers arrive. */
  timeoutS: number;
  /** Further attempts after a retryable failure. */
  retries: number;
  /** First pause between attempts; doubled after each. */
  backoffMs: number;
}

export type SendResult =
  { ok: true; status: number; attempts: number } | { ok: false; reason: string; attempts: number };

const USER_AGENT = "snapback";

/**
 * Sends a request with a timeout per attempt and bounded retries. Never throws: a
 * notification must not fail the backup it reports on. Network errors, timeouts, 429 and 5xx
 * are retried; other 4xx are not (a wrong token stays wrong).
 */
export async function send(request: HttpRequest, options: SendOptions): Promise<SendResult> {
  const attemptsAllowed = options.retries + 1;
  for (let attempt = 1; ; attempt++) {
    const outcome = await attemptOnce(request, options.timeoutS);
    if (outcome.ok) return { ok: true, status: outcome.status, attempts: attempt };
    if (!outcome.retryable || attempt >= attemptsAllowed) {
      return { ok: false, reason: scrub(outcome.reason, request.secrets), attempts: attempt };
    }
    await sleep(options.backoffMs * 2 ** (attempt - 1));
  }
}

type Attempt = { ok: true; status: number } | { ok: false; retryable: boolean; reason: string };

async function attemptOnce(request: HttpRequest, timeoutS: number): Promise<Attempt> {
  try {
    const response = await fetch(request.url, {
      method: request.method,
      headers: { "User-Agent": USER_AGENT, ...request.headers },
      ...(request.body === undefined ? {} : { body: request.body }),
      signal: AbortSignal.timeout(Math.round(timeoutS * 1000)),
    });
    // The body is not needed; dropping it releases the connection.
    await response.body?.cancel().catch(() => undefined);
    if (response.ok) return { ok: true, status: response.status };
    return {
      ok: false,
      retryable: response.status === 429 || response.status >= 500,
      reason: `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`,
    };
  } catch (e) {
    return describeError(e, timeoutS);
  }
}

function describeError(e: unknown, timeoutS: number): Attempt & { ok: false } {
  if (e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError")) {
    return { ok: false, retryable: true, reason: `no response within ${timeoutS}s` };
  }
  // undici reports network failures as TypeError("fetch failed") with the system error as cause.
  const cause = e instanceof Error ? (e.cause as NodeJS.ErrnoException | undefined) : undefined;
  if (e instanceof TypeError && cause) {
    const code = cause.code ?? cause.name;
    return { ok: false, retryable: true, reason: `network error (${code})` };
  }
  return {
    ok: false,
    retryable: false,
    reason: e instanceof Error ? `${e.name}: ${e.message}` : String(e),
  };
}

/** Replaces every secret in text with ***, longest first so a prefix does not hide the rest. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    if (s.length >= 3) out = out.split(s).join("***");
  }
  return out;
}
