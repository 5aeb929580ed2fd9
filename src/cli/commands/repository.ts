import { join } from "node:path";
import type { Config } from "../../config/schema.js";
import { resolveSecrets } from "../../config/secrets.js";
import {
  describeHolder,
  ensureNotLocked,
  secretValues,
  type ResticOptions,
  type ResticTarget,
} from "../../engine/restic/index.js";
import { UsageError } from "../../errors.js";
import { log, registerSecret } from "../../log.js";
import { selectPlans } from "./plans.js";

/** A plan's restic repository with its secrets resolved, for the commands that inspect one. */
export interface OpenedRepository {
  target: ResticTarget;
  options: ResticOptions;
}

/**
 * The repositories of `plan` a command works on: the one `--repository` names (it must be the
 * plan's), else every one (`all`) or the plan's first, as `restore` picks it.
 */
export async function planRepositories(
  config: Config,
  command: string,
  plan: string,
  repository: string | undefined,
  which: "first" | "all",
): Promise<OpenedRepository[]> {
  const [name] = selectPlans(config, [plan]);
  const repos = config.plans[name ?? plan]?.repositories ?? [];
  if (repository !== undefined && !repos.includes(repository))
    throw new UsageError(
      `${command}: plan "${plan}" has no repository "${repository}" (it uses: ${repos.join(", ")})`,
    );
  const chosen =
    repository !== undefined ? [repository] : which === "all" ? repos : repos.slice(0, 1);
  const out: OpenedRepository[] = [];
  for (const repoName of chosen) {
    const repo = config.repositories[repoName];
    if (!repo) throw new UsageError(`plans.${plan}.repositories: unknown repository "${repoName}"`);
    if (repo.engine !== "restic")
      throw new UsageError(
        `${command}: repository "${repoName}" uses engine "${repo.engine}"; snapback ${command} works with restic repositories`,
      );
    const secrets = await resolveSecrets(repoName, repo);
    for (const s of secretValues(repo.url, secrets)) registerSecret(s);
    out.push({
      target: { repoName, repo, secrets },
      options: { cacheDir: repo.cache_dir ?? join(config.state_dir, "cache", "restic") },
    });
  }
  return out;
}

/**
 * Clears restic locks that dead processes of this host left, as a backup does before it
 * starts; a live lock in the way fails with exit 4 naming its holder.
 */
export async function clearStaleLocks(
  opened: OpenedRepository,
  exclusive: boolean,
  signal?: AbortSignal,
): Promise<void> {
  await ensureNotLocked(opened.target, {
    ...opened.options,
    exclusive,
    ...(signal ? { signal } : {}),
    onRemoved: (lock, why) =>
      log.warn(
        `repository "${opened.target.repoName}": removed a stale restic lock of ${describeHolder(lock)}: ${why}`,
      ),
  });
}
