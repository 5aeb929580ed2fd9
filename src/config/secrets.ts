import { readFile, stat } from "node:fs/promises";
import { UsageError } from "../errors.js";
import { run, ProcessError } from "../exec/index.js";
import type { Repository } from "./schema.js";

/**
 * Resolves a repository's secrets (password, env, env_file) into environment variables for
 * the engine. Secrets only ever travel through the environment.
 */
export interface RepositorySecrets {
  password: string | undefined;
  /** Extra environment for the engine: `env` plus `env_file`. */
  env: Record<string, string>;
}

export async function resolveSecrets(
  repoName: string,
  repo: Repository,
): Promise<RepositorySecrets> {
  const env: Record<string, string> = {};
  if (repo.env_file) Object.assign(env, await readEnvFile(repoName, repo.env_file));
  Object.assign(env, repo.env ?? {});
  let password: string | undefined;
  if ("password_file" in repo && repo.password_file) {
    password = await readSecretFile(`repositories.${repoName}.password_file`, repo.password_file);
  } else if ("password_command" in repo && repo.password_command) {
    password = await runPasswordCommand(repoName, repo.password_command);
  }
  return { password, env };
}

async function checkPrivate(key: string, path: string): Promise<void> {
  let mode: number;
  try {
    mode = (await stat(path)).mode;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      `${key}: ${path} ${code === "ENOENT" ? "does not exist" : `cannot be read (${code})`}`,
    );
  }
  if ((mode & 0o044) !== 0) {
    throw new UsageError(
      `${key}: ${path} holds a secret but is readable by other users (mode ${(mode & 0o777).toString(8)})`,
      { hint: `run: chmod 600 ${path}` },
    );
  }
}

/**
 * The first line of a secret file, refused when other users can read the file; `key` names
 * the config key in every error.
 */
export async function readSecretFile(key: string, path: string): Promise<string> {
  await checkPrivate(key, path);
  const text = await readFile(path, "utf8");
  const first = firstLine(text);
  if (!first) throw new UsageError(`${key}: ${path} is empty (the password is its first line)`);
  return first;
}

async function readEnvFile(repoName: string, path: string): Promise<Record<string, string>> {
  const key = `repositories.${repoName}.env_file`;
  await checkPrivate(key, path);
  const env: Record<string, string> = {};
  const lines = (await readFile(path, "utf8")).split("\n");
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m?.[1]) throw new UsageError(`${key}: ${path} line ${i + 1} is not KEY=VALUE`);
    env[m[1]] = (m[2] ?? "").replace(/^(["'])(.*)\1$/, "$2");
  });
  return env;
}

async function runPasswordCommand(repoName: string, argv: readonly string[]): Promise<string> {
  const [file = "", ...args] = argv;
  const key = `repositories.${repoName}.password_command`;
  let stdout: string;
  try {
    stdout = (await run(file, args)).stdout;
  } catch (e) {
    if (!(e instanceof ProcessError)) throw e;
    // Never e.message or e.stdout: stdout may hold (part of) the secret. stderr is shown with
    // anything that also appeared on stdout masked.
    const how =
      e.spawnCode === "ENOENT"
        ? "was not found"
        : e.spawnCode !== undefined
          ? `could not start (${e.spawnCode})`
          : e.signal
            ? `was killed by ${e.signal}`
            : `exited with code ${e.exitCode_}`;
    const stderr = redactText(
      e.stderrTail(3),
      e.stdout.split("\n").map((l) => l.trim()),
    );
    throw new UsageError(`${key}: ${file} ${how}${stderr ? `: ${stderr}` : ""}`);
  }
  const pw = firstLine(stdout);
  if (!pw) throw new UsageError(`${key}: ${file} printed no password`);
  return pw;
}

/** The first line without its line ending; a password never ends in CR or LF. */
function firstLine(text: string): string {
  return (text.split("\n")[0] ?? "").replace(/\r$/, "");
}

/** Replaces every known secret value in `text` with "***". */
export function redactText(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const s of secrets) if (s.length >= 3) out = out.split(s).join("***");
  return out;
}
