import type { WireEvent } from "./types.js";

/**
 * Every request goes to a path relative to the page, so the UI works under any base_path
 * (the page is always `<base_path>` with the route in the hash).
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { "content-type": "application/json" };
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let data: unknown;
  try {
    data = text === "" ? null : JSON.parse(text);
  } catch {
    data = { error: text };
  }
  if (!res.ok) {
    const msg =
      data && typeof data === "object" && "error" in data ? String(data.error) : res.statusText;
    if (res.status === 401) unauthorized();
    throw new ApiError(res.status, msg);
  }
  return data as T;
}

let onUnauthorized: () => void = () => undefined;
function unauthorized(): void {
  onUnauthorized();
}
export function setUnauthorizedHandler(f: () => void): void {
  onUnauthorized = f;
}

export const api = {
  get: <T>(path: string) => request<T>("GET", path),
  post: <T>(path: string, body: unknown = {}) => request<T>("POST", path, body),
};

export function q(params: Record<string, string | number | undefined | null>): string {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null) s.set(k, String(v));
  const text = s.toString();
  return text ? `?${text}` : "";
}

/**
 * One EventSource for the whole page: every view subscribes to it. The browser reconnects by
 * itself; views refetch their lists on "open" so nothing missed while disconnected is lost.
 */
type Listener = (e: WireEvent) => void;
const listeners = new Set<Listener>();
const openListeners = new Set<() => void>();
let source: EventSource | undefined;

export function subscribe(listener: Listener, onOpen?: () => void): () => void {
  listeners.add(listener);
  if (onOpen) openListeners.add(onOpen);
  if (!source) {
    source = new EventSource("api/events");
    source.onmessage = (m: MessageEvent<string>) => {
      let event: WireEvent;
      try {
        event = JSON.parse(m.data) as WireEvent;
      } catch {
        return;
      }
      for (const l of listeners) l(event);
    };
    source.addEventListener("hello", () => {
      for (const l of openListeners) l();
    });
  }
  return () => {
    listeners.delete(listener);
    if (onOpen) openListeners.delete(onOpen);
    if (listeners.size === 0 && source) {
      source.close();
      source = undefined;
    }
  };
}
