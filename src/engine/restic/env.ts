import type { RepositorySecrets } from "../../config/secrets.js";
import type { ResticBinary } from "./binary.js";

/** Features snapback turns on whenever the installed restic lists them. */
const WANTED_FEATURES = ["device-id-for-hardlinks"] as const;

/**
 * Variables a user's shell may carry that would change which repository or password restic
 * uses, or which snapshots it sees. snapback states them all itself, so inherited values are
 * blanked (restic treats an empty variable as unset) unless the repository's own env sets them.
 */
const STATED_BY_SNAPBACK = [
  "RESTIC_REPOSITORY",
  "RESTIC_REPOSITORY_FILE",
  "RESTIC_PASSWORD",
  "RESTIC_PASSWORD_FILE",
  "RESTIC_PASSWORD_COMMAND",
  "RESTIC_HOST",
  "RESTIC_FEATURES",
] as const;

export interface ResticEnvInput {
  url: string;
  secrets: RepositorySecrets;
  binary: ResticBinary;
  cacheDir?: string | undefined;
  /** Set for commands that report progress (backup). */
  progressFps?: number | undefined;
  /** Added last: the view's TMPDIR / RESTIC_CACHE_DIR on live mounts. */
  extra?: Record<string, string> | undefined;
}

/**
 * The environment of one restic process. Everything secret (the repository URL may hold
 * credentials, the password, the repository's env) travels here, never in argv.
 */
export function resticEnv(input: ResticEnvInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of STATED_BY_SNAPBACK) env[key] = "";
  Object.assign(env, input.secrets.env);
  env["RESTIC_REPOSITORY"] = input.url;
  if (input.secrets.password !== undefined) env["RESTIC_PASSWORD"] = input.secrets.password;
  if (input.cacheDir !== undefined) env["RESTIC_CACHE_DIR"] = input.cacheDir;
  if (input.progressFps !== undefined) env["RESTIC_PROGRESS_FPS"] = String(input.progressFps);
  env["RESTIC_FEATURES"] = featureList(input.secrets.env["RESTIC_FEATURES"], input.binary.features);
  Object.assign(env, input.extra ?? {});
  return env;
}

/** The features snapback turns on with this binary (for doctor and the run's result). */
export function usedFeatures(binary: Pick<ResticBinary, "features">): string[] {
  return WANTED_FEATURES.filter((f) => binary.features.has(f));
}

/** Why a binary without device-id-for-hardlinks costs every incremental, and the fix. */
export function missingFeatureNote(
  binary: Pick<ResticBinary, "features" | "version">,
): string | undefined {
  if (binary.features.has("device-id-for-hardlinks")) return undefined;
  return `restic ${binary.version} lacks device-id-for-hardlinks: every incremental of a snapshot rewrites the tree data of every directory below the source; upgrade to restic >= 0.17 (restic_binary = "/usr/local/bin/restic")`;
}

/** The user's RESTIC_FEATURES plus the wanted features this restic actually lists. */
function featureList(user: string | undefined, supported: ReadonlySet<string>): string {
  const items = (user ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const named = new Set(items.map((i) => i.split("=")[0]));
  for (const f of WANTED_FEATURES) if (supported.has(f) && !named.has(f)) items.push(f);
  return items.join(",");
}

/** The URL with any `user:password@` removed, safe for messages. */
export function displayUrl(url: string): string {
  return url.replace(/^([A-Za-z0-9+.:-]*\/\/)([^/@]*:[^/@]*)@/, "$1");
}

/** Every value that must never reach a message or log: password, env values, URL credentials. */
export function secretValues(url: string, secrets: RepositorySecrets): string[] {
  const values: string[] = [];
  if (secrets.password !== undefined) values.push(secrets.password);
  values.push(...Object.values(secrets.env));
  const userinfo = /^[A-Za-z0-9+.:-]*\/\/([^/@]*:([^/@]*))@/.exec(url);
  if (userinfo?.[1]) values.push(userinfo[1]);
  if (userinfo?.[2]) values.push(userinfo[2], safeDecode(userinfo[2]));
  // Longest first, so a secret that contains another is replaced whole.
  return [...new Set(values)].sort((a, b) => b.length - a.length);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
