import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { runKopia, kopiaRepository, type KopiaOptions, type KopiaTarget } from "./command.js";
import { connectHint, KopiaError, notConnectedMessage } from "./errors.js";

/** What snapback needs from kopia's repository config file (written by `kopia repository connect`). */
export interface KopiaClientConfig {
  /** caching.cacheDirectory, made absolute (kopia resolves it against the config file's directory). */
  cacheDir: string | undefined;
  /** The client identity kopia records as the source's host and user. */
  hostname: string | undefined;
  username: string | undefined;
}

/** Reads the config file; a missing file means the repository was never connected. */
export async function readClientConfig(
  repoName: string,
  configFile: string,
): Promise<KopiaClientConfig> {
  let text: string;
  try {
    text = await readFile(configFile, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new KopiaError("not-connected", repoName, notConnectedMessage(repoName, configFile), {
        hint: connectHint(configFile),
      });
    }
    throw new KopiaError(
      "other",
      repoName,
      `repositories.${repoName}.config_file: ${configFile} cannot be read (${code ?? "error"})`,
    );
  }
  return parseClientConfig(text, configFile);
}

export function parseClientConfig(text: string, configFile: string): KopiaClientConfig {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    data = undefined;
  }
  const o = data !== null && typeof data === "object" ? (data as Record<string, unknown>) : {};
  const caching =
    o["caching"] !== null && typeof o["caching"] === "object"
      ? (o["caching"] as Record<string, unknown>)
      : {};
  const dir = caching["cacheDirectory"];
  const str = (v: unknown): string | undefined => (typeof v === "string" && v ? v : undefined);
  return {
    cacheDir:
      typeof dir === "string" && dir
        ? isAbsolute(dir)
          ? dir
          : resolve(dirname(configFile), dir)
        : undefined,
    hostname: str(o["hostname"]),
    username: str(o["username"]),
  };
}

/**
 * Opens the repository once (`kopia repository status` reads its format blob with the
 * password): a wrong password, a missing or unreachable repository fails here, before any
 * filesystem snapshot is taken. kopia cannot create a repository from snapback's config
 * (that needs the storage's details): the config file must exist.
 */
export async function ensureConnected(
  target: KopiaTarget,
  options: KopiaOptions = {},
): Promise<KopiaClientConfig> {
  const repo = kopiaRepository(target);
  const client = await readClientConfig(target.repoName, repo.config_file);
  await runKopia(target, ["repository", "status"], { ...options, action: "repository status" });
  return client;
}
