import { readFile, stat } from "node:fs/promises";
import { parse as parseToml, TomlError } from "smol-toml";
import type { z } from "zod";
import { ConfigError, UsageError } from "../errors.js";
import { lineOfKey } from "./locate.js";
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
export async function loadConfig(path: string): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === "ENOENT" ? `config file ${path} does not exist` : `cannot read config file ${path}: ${code ?? String(e)}`,
      { hint: "pass --config FILE or set SNAPBACK_CONFIG" },
    );
  }
  const config = parseConfigText(text, path);
  await refuseReadableSecrets(path, config);
  return { path, config };
}

export function parseConfigText(text: string, path = "config"): Config {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (e) {
    if (e instanceof TomlError) {
      const first = e.message.split("\n")[0] ?? e.message;
      throw new ConfigError(path, [`line ${e.line}, column ${e.column}: ${first}`]);
    }
    throw e;
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(path, formatIssues(result.error.issues, text));
  return result.data;
}

function formatIssues(issues: readonly z.core.$ZodIssue[], text: string): string[] {
  return issues.map((issue) => {
    const base = issue.path.map((p) => String(p));
    if (issue.code === "unrecognized_keys") {
      const keys = issue.keys;
      const where = keys.map((k) => [...base, k].join("."));
      const line = lineOfKey(text, [...(issue.path as (string | number)[]), keys[0] ?? ""]);
      return `${line ? `line ${line}: ` : ""}unknown key${keys.length > 1 ? "s" : ""} ${where.join(", ")}`;
    }
    const key = formatPath(issue.path as (string | number)[]);
    const line = lineOfKey(text, issue.path as (string | number)[]);
    return `${line ? `line ${line}: ` : ""}${key || "(top level)"} ${describeIssue(issue)}`;
  });
}

function formatPath(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_type") {
    const got = issue.message.match(/received (\w+)/)?.[1];
    if (got === "undefined") return "is required";
    return `must be ${article(issue.expected)}${got ? ` (got ${got})` : ""}`;
  }
  if (issue.code === "invalid_union" && "discriminator" in issue) {
    return `must be one of restic, kopia, btrfs, zfs`;
  }
  if (issue.code === "invalid_value") {
    return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
  }
  return issue.message;
}

function article(t: string): string {
  const word = t === "int" ? "integer" : t === "record" ? "table" : t === "object" ? "table" : t;
  return /^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`;
}

/** A config that carries secret values must not be readable by other users. */
async function refuseReadableSecrets(path: string, config: Config): Promise<void> {
  const carriesSecrets = Object.values(config.repositories).some(
    (r) => r.env !== undefined && Object.keys(r.env).length > 0,
  );
  if (!carriesSecrets) return;
  const st = await stat(path);
  if ((st.mode & 0o044) !== 0) {
    throw new UsageError(
      `config file ${path} contains secrets (repository env) but is readable by other users (mode ${(st.mode & 0o777).toString(8)})`,
      { hint: `run: chmod 600 ${path}` },
    );
  }
}
