import type { Config } from "./schema.js";

export const REDACTED = "***";

/**
 * A deep copy of the config for `config show`, safe to print: every `env` value, everything
 * under a key that names a secret (password, secret, token, key, credential...) and the
 * credentials inside repository URLs become "***". Paths and commands that only say where a
 * secret is (password_file, password_command, env_file) stay visible: they are not secrets.
 */
export function redactConfig(config: Config): unknown {
  // Repository and plan names are the user's labels, not keys: a repository called "token"
  // is shown, only its settings are subject to the key rules.
  const { repositories, plans, ...rest } = config;
  return {
    ...(redactValue(rest) as Record<string, unknown>),
    repositories: mapValues(repositories, redactValue),
    plans: mapValues(plans, redactValue),
  };
}

function mapValues<T>(record: Record<string, T>, f: (v: T) => unknown): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, f(v)]));
}

/** Same rules as `redactConfig`, for any JSON-like value (the config after defaults, a plan). */
export function redactValue(value: unknown): unknown {
  return walk(value);
}

/** Keys that hold where a secret is, not the secret itself. */
const SECRET_LOCATORS = new Set(["password_file", "password_command", "env_file"]);

const SECRET_WORDS = new Set([
  "password",
  "passwd",
  "pass",
  "passphrase",
  "pw",
  "secret",
  "token",
  "key",
  "apikey",
  "credential",
  "credentials",
  "auth",
  "authorization",
]);

/** Does this key name a secret? Looks at its words: `AWS_SECRET_ACCESS_KEY`, `apiToken`. */
export function isSecretKey(key: string): boolean {
  if (SECRET_LOCATORS.has(key)) return false;
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .split(/[^a-z0-9]+/);
  return words.some((w) => SECRET_WORDS.has(w));
}

function walk(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => walk(v));
  if (value instanceof Date) return value.toISOString();
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (k === "notify" && Array.isArray(v)) {
        out[k] = v.map(redactChannel);
      } else if (k === "env" && v !== null && typeof v === "object" && !Array.isArray(v)) {
        // Keep the variable names: they tell which credentials are configured.
        out[k] = Object.fromEntries(Object.keys(v).map((name) => [name, REDACTED]));
      } else if (isSecretKey(k)) {
        out[k] = REDACTED;
      } else {
        out[k] = walk(v);
      }
    }
    return out;
  }
  if (typeof value === "string") return redactUrlCredentials(value);
  return value;
}

/**
 * Hides the userinfo of `scheme://user:pass@host` anywhere in a string (restic's
 * `rest:https://…`, `s3:https://…`). A bare user name is kept only for ssh-like schemes, where it
 * is a login name; elsewhere (`https://TOKEN@host`) it is often a token.
 */
export function redactUrlCredentials(text: string): string {
  return text.replace(
    /([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#\s]*)@/g,
    (whole, scheme: string, userinfo: string) => {
      if (!userinfo.includes(":") && /^(sftp|ssh)$/i.test(scheme)) return whole;
      return `${scheme}://${REDACTED}@`;
    },
  );
}

/**
 * The secret parts of the credentials in `scheme://user:pass@host` anywhere in a string, as
 * written and percent-decoded, for the log redactor: the password, or the whole userinfo
 * where `redactUrlCredentials` hides it (a bare token).
 */
export function urlCredentials(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#\s]*)@/g)) {
    const scheme = m[1] ?? "";
    const userinfo = m[2] ?? "";
    if (!userinfo.includes(":") && /^(sftp|ssh)$/i.test(scheme)) continue;
    const colon = userinfo.indexOf(":");
    const secret = colon < 0 ? userinfo : userinfo.slice(colon + 1);
    for (const s of [userinfo, secret, safeDecode(secret)]) if (s) found.push(s);
  }
  return [...new Set(found)];
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * A notification channel's URL is its credential (Healthchecks and Uptime Kuma put the check's
 * token in the path; an ntfy topic is readable by anyone who knows it), and so are webhook
 * header values. The type, events and host stay visible.
 */
function redactChannel(channel: unknown): unknown {
  if (channel === null || typeof channel !== "object") return walk(channel);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(channel as Record<string, unknown>)) {
    if (k === "url" && typeof v === "string") out[k] = redactUrlPath(v);
    else if (k === "topic") out[k] = REDACTED;
    else if (k === "headers" && v !== null && typeof v === "object") {
      out[k] = Object.fromEntries(Object.keys(v).map((name) => [name, REDACTED]));
    } else out[k] = walk(v);
  }
  return out;
}

function redactUrlPath(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/${REDACTED}`;
  } catch {
    return REDACTED;
  }
}
