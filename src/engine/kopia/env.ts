import type { RepositorySecrets } from "../../config/secrets.js";

export interface KopiaEnvInput {
  secrets: RepositorySecrets;
  /** KOPIA_LOG_DIR: kopia's own log files (default ~/.cache/kopia, which may be read-only in the view). */
  logDir?: string | undefined;
  /** Added last: the view's TMPDIR. */
  extra?: Record<string, string> | undefined;
  /** The environment inherited (default process.env). */
  base?: NodeJS.ProcessEnv;
}

/**
 * The complete environment of one kopia process. The password travels here as KOPIA_PASSWORD,
 * never in argv. Every inherited KOPIA_* variable is dropped: a shell's KOPIA_CONFIG_PATH,
 * KOPIA_PASSWORD or KOPIA_SNAPSHOT_FAIL_FAST would silently change which repository is used
 * or what a failed file means; the repository's own `env` may set them again on purpose.
 */
export function kopiaEnv(input: KopiaEnvInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.base ?? process.env)) {
    if (v !== undefined && !k.startsWith("KOPIA_")) env[k] = v;
  }
  // Scripted runs must not look for updates nor print update notices.
  env["KOPIA_CHECK_FOR_UPDATES"] = "false";
  if (input.logDir !== undefined) env["KOPIA_LOG_DIR"] = input.logDir;
  Object.assign(env, input.secrets.env);
  if (input.secrets.password !== undefined) env["KOPIA_PASSWORD"] = input.secrets.password;
  Object.assign(env, input.extra ?? {});
  return env;
}

/** Every value that must never reach a message or log: the password and the env values. */
export function secretValues(secrets: RepositorySecrets): string[] {
  const values: string[] = [];
  if (secrets.password !== undefined) values.push(secrets.password);
  values.push(...Object.values(secrets.env));
  return [...new Set(values)].filter(Boolean).sort((a, b) => b.length - a.length);
}
