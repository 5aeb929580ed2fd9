import type { Repository } from "../../config/schema.js";
import type { RepositorySecrets } from "../../config/secrets.js";
import { runRestic, resticRepository, type ResticOptions } from "./command.js";
import { displayUrl } from "./env.js";
import { ResticError, repoMissingMessage } from "./errors.js";

export interface EnsureResult {
  /** True when this call ran `restic init`. */
  created: boolean;
}

/**
 * Checks that the repository opens with its password (`cat config` reads one small file and
 * needs the key); creates it when it is missing and `init` is set.
 */
export async function ensureRepository(
  repoName: string,
  repo: Repository,
  secrets: RepositorySecrets,
  init: boolean,
  options: ResticOptions = {},
): Promise<EnsureResult> {
  const target = { repoName, repo, secrets };
  const url = displayUrl(resticRepository(target).url);
  try {
    // --no-lock: a check must not write a lock file nor wait for a running prune.
    await runRestic(target, ["cat", "config", "--no-lock"], { ...options, action: "cat config" });
    return { created: false };
  } catch (e) {
    if (!(e instanceof ResticError) || e.kind !== "repo-missing") throw e;
    if (!init) {
      throw new ResticError("repo-missing", repoName, repoMissingMessage(repoName, url), {
        stderrTail: e.stderrTail,
      });
    }
  }
  await runRestic(target, ["init"], { ...options, action: "init" });
  return { created: true };
}
