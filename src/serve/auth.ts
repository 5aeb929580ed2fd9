import { randomBytes } from "node:crypto";
import type { Principal } from "./users.js";

/**
 * Cookie sessions, kept in memory: a daemon restart logs everyone out, which is the safe
 * side (nothing to steal from disk). A session lives `ttlMs` after its last use.
 */
export class Sessions {
  private readonly byId = new Map<string, { principal: Principal; expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  create(principal: Principal): string {
    this.sweep();
    const id = randomBytes(32).toString("base64url");
    this.byId.set(id, { principal, expires: this.now() + this.ttlMs });
    return id;
  }

  get(id: string): Principal | undefined {
    const s = this.byId.get(id);
    if (!s) return undefined;
    if (s.expires <= this.now()) {
      this.byId.delete(id);
      return undefined;
    }
    s.expires = this.now() + this.ttlMs;
    return s.principal;
  }

  delete(id: string): void {
    this.byId.delete(id);
  }

  /** Expired sessions go when a new one is made: no timer needed. */
  private sweep(): void {
    const now = this.now();
    for (const [id, s] of this.byId) if (s.expires <= now) this.byId.delete(id);
  }
}

/**
 * Failed logins per key (client address, user name): after `max` failures within `windowMs`
 * further attempts are refused until the oldest failure leaves the window, whether or not
 * the password is right, so guessing cannot continue.
 */
export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly max = 5,
    private readonly windowMs = 15 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until `keys` may try again; 0 when allowed now. */
  retryAfter(keys: readonly string[]): number {
    let wait = 0;
    for (const key of keys) {
      const recent = this.recent(key);
      if (recent.length >= this.max) {
        const oldest = recent[0] ?? this.now();
        wait = Math.max(wait, Math.ceil((oldest + this.windowMs - this.now()) / 1000));
      }
    }
    return wait;
  }

  fail(keys: readonly string[]): void {
    for (const key of keys) this.failures.set(key, [...this.recent(key), this.now()]);
  }

  succeed(keys: readonly string[]): void {
    for (const key of keys) this.failures.delete(key);
  }

  private recent(key: string): number[] {
    const since = this.now() - this.windowMs;
    const list = (this.failures.get(key) ?? []).filter((t) => t > since);
    if (list.length === 0) this.failures.delete(key);
    else this.failures.set(key, list);
    return list;
  }
}

/**
 * CSRF: a state-changing request on a cookie session must come from a page of this server.
 * Browsers send `Origin` on cross-site POSTs; `Referer` is the fallback.
 */
export function sameOrigin(
  headers: { origin: string | undefined; referer: string | undefined; host: string | undefined },
  ownOrigins: readonly string[],
): boolean {
  const claimed = headers.origin ?? headers.referer;
  if (claimed === undefined || claimed === "null") return false;
  let origin: string;
  try {
    origin = new URL(claimed).origin;
  } catch {
    return false;
  }
  const allowed = [...ownOrigins];
  if (headers.host !== undefined) allowed.push(`http://${headers.host}`, `https://${headers.host}`);
  return allowed.includes(origin);
}
