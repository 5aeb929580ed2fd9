import { readFile, stat } from "node:fs/promises";
import { parse as parseToml, TomlError } from "smol-toml";
import type * as z from "zod";
import { ConfigError, UsageError } from "../errors.js";
import { applyEnvironment } from "./env.js";
import { lineOfKey } from "./locate.js";
import { registerSecret } from "../log.js";
import { redactUrlCredentials, urlCredentials } from "./redact.js";
import { configSchema, type Config } from "./schema.js";

export const DEFAULT_CONFIG_PATH = "/etc/snapback/snapback.toml";

export interface LoadedConfig {
  path: string;
  config: Config;
}

export function configPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? env["SNAPBACK_CONFIG"] ?? DEFAULT_CONFIG_PATH;
}

/** Reads, parses and validates a config file; every problem names its key path and line. */
export async function loadConfig(
  path: string,
  options: { schemaOnly?: boolean } = {},
): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === "ENOENT"
        ? `config file ${path} does not exist`
        : `cannot read config file ${path}: ${code ?? String(e)}`,
      { hint: "pass --config FILE or set SNAPBACK_CONFIG" },
    );
  }
  const config = applyEnvironment(parseConfigText(text, path));
  // Before anything can print a URL: every log line and error hides its credentials.
  for (const r of Object.values(config.repositories))
    if (r.engine === "restic") for (const s of urlCredentials(r.url)) registerSecret(s);
  // Schema-only is for build sandboxes (the NixOS module's check): the file there is a store
  // path, world-readable by design and free of secrets, which the module itself enforces.
  if (!options.schemaOnly) await refuseReadableSecrets(path, config);
  return { path, config };
}

/**
 * Parses and validates config text. Problems are reported as `line N: key.path: what is wrong`,
 * sorted by line; values are never echoed except short enum-like ones (an `env` value that
 * failed to parse might be a secret).
 */
export function parseConfigText(text: string, path = "config"): Config {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (e) {
    if (e instanceof TomlError) {
      // Only the first line: the rest is a source excerpt that may contain a secret.
      const first = (e.message.split("\n")[0] ?? e.message).replace(
        /^Invalid TOML document:\s*/,
        "",
      );
      throw new ConfigError(path, [`line ${e.line}, column ${e.column}: invalid TOML: ${first}`]);
    }
    throw e;
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(path, formatIssues(result.error.issues, text, raw));
  return result.data;
}

type Key = string | number;

interface Problem {
  line: number | undefined;
  text: string;
}

function formatIssues(issues: readonly z.core.$ZodIssue[], text: string, raw: unknown): string[] {
  const problems: Problem[] = [];
  const add = (path: readonly Key[], message: string): void => {
    const line = lineOfKey(text, path);
    const where = formatKeyPath(path) || "(top level)";
    problems.push({ line, text: `${line ? `line ${line}: ` : ""}${where}: ${message}` });
  };
  for (const issue of issues) {
    const path = issue.path as Key[];
    if (issue.code === "unrecognized_keys") {
      const allowed = allowedKeysAt(path, raw);
      for (const key of issue.keys) add([...path, key], unknownKey(key, allowed));
    } else {
      const actual = valueAt(raw, path);
      add(path, withValue(describeIssue(issue, actual), actual, path));
    }
  }
  // Stable sort: problems without a line keep their order after the located ones.
  return problems
    .map((p, i) => ({ ...p, i }))
    .sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || a.i - b.i)
    .map((p) => p.text);
}

/** `plans.home.sources[0]`; keys that are not bare TOML keys are quoted. */
export function formatKeyPath(path: readonly Key[]): string {
  return path
    .map((p, i) => {
      if (typeof p === "number") return `[${p}]`;
      const key = /^[A-Za-z0-9_-]+$/.test(p) ? p : JSON.stringify(p);
      return i === 0 ? key : `.${key}`;
    })
    .join("");
}

function describeIssue(issue: z.core.$ZodIssue, actual: unknown): string {
  switch (issue.code) {
    case "invalid_type": {
      if (actual === undefined) return "is required";
      const got = tomlType(actual);
      let hint = "";
      if ((issue.expected === "number" || issue.expected === "int") && got === "string") {
        hint = "; write the number without quotes";
      } else if (issue.expected === "array" && got !== "array" && got !== "table") {
        hint = '; a list is written ["a", "b"]';
      }
      return `must be ${article(issue.expected)} (got ${got}${hint})`;
    }
    case "invalid_union": {
      if (issue.discriminator === undefined || !("options" in issue) || !issue.options)
        return issue.message;
      const options = issue.options.map(String).join(", ");
      if (actual === undefined) return `is required (one of ${options})`;
      return `must be one of ${options} (got ${shortValue(actual)})`;
    }
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")} (got ${shortValue(actual)})`;
    case "invalid_key": {
      const inner = issue.issues.map((i) => i.message).join("; ");
      return `invalid name: ${inner}`;
    }
    case "too_small":
      if (!issue.message.startsWith("Too small")) return issue.message;
      if (issue.origin === "array") return `must list at least ${issue.minimum} item(s)`;
      if (issue.origin === "string")
        return issue.minimum === 1
          ? "must not be empty"
          : `must be at least ${issue.minimum} characters`;
      return `must be ${issue.inclusive ? ">=" : ">"} ${issue.minimum}`;
    case "too_big":
      if (!issue.message.startsWith("Too big")) return issue.message;
      if (issue.origin === "array") return `must list at most ${issue.maximum} item(s)`;
      if (issue.origin === "string") return `must be at most ${issue.maximum} characters`;
      return `must be ${issue.inclusive ? "<=" : "<"} ${issue.maximum}`;
    default:
      return issue.message;
  }
}

/**
 * `"relative/path" must be an absolute path`: the offending value quoted before what is wrong
 * with it, so the user sees what was read — unless the message already shows it, the value is
 * not a plain scalar, or the key may hold a secret (a URL's credentials are cut out).
 * Only for "must …" messages, which all read well with the value in front.
 */
function withValue(message: string, actual: unknown, path: readonly Key[]): string {
  if (!message.startsWith("must ") || message.includes("(got ")) return message;
  if (typeof actual !== "string" && typeof actual !== "number" && typeof actual !== "boolean")
    return message;
  // Nothing to show in an empty string; control characters are not echoed to a terminal.
  if (actual === "" || (typeof actual === "string" && [...actual].some((c) => c < " ")))
    return message;
  // Environment values and engine options often carry credentials: never echoed.
  if (path.some((k) => k === "env" || k === "options")) return message;
  const key = path.findLast((k): k is string => typeof k === "string") ?? "";
  if (/pass|secret|token|credential|auth|key$/i.test(key) && !key.endsWith("_file")) return message;
  let shown = typeof actual === "string" ? actual.replace(/\/\/[^/@\s]*@/, "//…@") : actual;
  if (typeof shown === "string" && shown.length > 60) shown = `${shown.slice(0, 57)}…`;
  const quoted = typeof shown === "string" ? JSON.stringify(shown) : String(shown);
  if (message.includes(quoted)) return message;
  return `${quoted} ${message}`;
}

function unknownKey(key: string, allowed: readonly string[]): string {
  if (allowed.length === 0) return "unknown key";
  const close = allowed.filter(
    (a) => editDistance(a, key) <= Math.max(1, Math.floor(a.length / 4)),
  );
  if (close.length > 0) return `unknown key (did you mean ${close.join(" or ")}?)`;
  return `unknown key (allowed: ${allowed.join(", ")})`;
}

/** The TOML name of a parsed value's type, as a user wrote it. */
function tomlType(v: unknown): string {
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "float";
  if (typeof v === "bigint") return "integer";
  if (Array.isArray(v)) return "array";
  if (v instanceof Date) return "date-time";
  if (v !== null && typeof v === "object") return "table";
  return typeof v;
}

/** Shows a value only when it is short and scalar: enum-like values are never secrets. */
function shortValue(v: unknown): string {
  if (typeof v === "string" && v.length <= 40 && !/\s/.test(v)) return JSON.stringify(v);
  if (typeof v === "boolean" || typeof v === "number") return String(v);
  return tomlType(v);
}

function article(expected: string): string {
  const word =
    expected === "int"
      ? "integer"
      : expected === "record" || expected === "object"
        ? "table"
        : expected === "boolean"
          ? "boolean (true or false)"
          : expected;
  return /^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`;
}

function valueAt(raw: unknown, path: readonly Key[]): unknown {
  let v = raw;
  for (const p of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = Object.hasOwn(v, p) ? (v as Record<Key, unknown>)[p] : undefined;
  }
  return v;
}

interface Introspectable {
  _zod: {
    def: {
      type: string;
      shape?: Record<string, Introspectable>;
      innerType?: Introspectable;
      valueType?: Introspectable;
      element?: Introspectable;
      options?: Introspectable[];
      discriminator?: string;
      values?: unknown[];
    };
  };
}

/** The keys the schema allows at `path` (for "did you mean"); empty when it cannot tell. */
function allowedKeysAt(path: readonly Key[], raw: unknown): string[] {
  // zod's internal definition types are too deep to match structurally; this reads them only.
  let node: Introspectable | undefined = configSchema as unknown as Introspectable;
  for (let i = 0; i <= path.length && node;) {
    const def: Introspectable["_zod"]["def"] = node._zod.def;
    if (def.innerType) {
      node = def.innerType;
      continue;
    }
    if (def.type === "union" && def.discriminator && def.options) {
      const tag = valueAt(raw, [...path.slice(0, i), def.discriminator]);
      node = def.options.find((o) =>
        o._zod.def.shape?.[def.discriminator ?? ""]?._zod.def.values?.includes(tag),
      );
      continue;
    }
    if (i === path.length) return def.shape ? Object.keys(def.shape) : [];
    const p = path[i];
    i++;
    if (def.type === "object" && typeof p === "string") node = def.shape?.[p];
    else if (def.type === "record") node = def.valueType;
    else if (def.type === "array") node = def.element;
    else return [];
  }
  return [];
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min(sub, (prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/**
 * The keys of a config that hold secret values: repository `env` values and credentials in a
 * repository URL (`rest:https://user:PASSWORD@nas/`) are credentials; so are notification URLs
 * (they embed tokens). Keys only: a message may name them, never quote them.
 */
export function secretKeys(config: Config): string[] {
  const keys: string[] = [];
  for (const [name, r] of Object.entries(config.repositories)) {
    if (r.env !== undefined && Object.keys(r.env).length > 0) keys.push(`repositories.${name}.env`);
    if (r.engine === "restic" && redactUrlCredentials(r.url) !== r.url)
      keys.push(`repositories.${name}.url`);
  }
  if (config.notify.length > 0) keys.push("notify");
  for (const [name, p] of Object.entries(config.plans))
    if ((p.notify?.length ?? 0) > 0) keys.push(`plans.${name}.notify`);
  return keys;
}

/** A config that carries secret values must not be readable by other users. */
async function refuseReadableSecrets(path: string, config: Config): Promise<void> {
  const keys = secretKeys(config);
  if (keys.length === 0) return;
  const st = await stat(path);
  if ((st.mode & 0o044) !== 0) {
    throw new UsageError(
      `config file ${path} holds secrets (${keys.join(", ")}) but is readable by other users (mode ${(st.mode & 0o777).toString(8).padStart(3, "0")})`,
      { hint: `run: chmod 600 ${path}` },
    );
  }
}
