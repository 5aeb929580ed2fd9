import { join } from "node:path";
import type { Config, Repository } from "../config/schema.js";
import { resolveSecrets, type RepositorySecrets } from "../config/secrets.js";
import { UsageError } from "../errors.js";
import { registerSecret } from "../log.js";
import { ResticEngine } from "./restic-engine.js";
import { setProbeCacheDir } from "./restic/probe-cache.js";
import type { RepositoryEngine } from "./types.js";

/**
 * The engines for every repository of a plan. With `resolveSecrets: false` (dry-run) no
 * password file is read and no command run: the engines can only describe.
 */
export async function openEngines(
  config: Config,
  planName: string,
  opts: { resolveSecrets: boolean },
): Promise<RepositoryEngine[]> {
  const plan = config.plans[planName];
  if (!plan) throw new UsageError(`unknown plan "${planName}"`);
  setProbeCacheDir(join(config.state_dir, "cache"));
  const engines: RepositoryEngine[] = [];
  for (const repoName of plan.repositories) {
    const repo = config.repositories[repoName];
    if (!repo)
      throw new UsageError(`plans.${planName}.repositories: unknown repository "${repoName}"`);
    const secrets: RepositorySecrets = opts.resolveSecrets
      ? await resolveSecrets(repoName, repo)
      : { password: undefined, env: {} };
    engines.push(await openEngine(config, repoName, repo, secrets));
    for (const s of engines.at(-1)?.secretValues() ?? []) registerSecret(s);
  }
  return engines;
}

/** The engine of one configured repository, with its secrets resolved (`cleanup`, `unlock`). */
export async function openRepository(config: Config, repoName: string): Promise<RepositoryEngine> {
  const repo = config.repositories[repoName];
  if (!repo) throw new UsageError(`unknown repository "${repoName}"`);
  const engine = await openEngine(config, repoName, repo, await resolveSecrets(repoName, repo));
  for (const s of engine.secretValues()) registerSecret(s);
  return engine;
}

/**
 * One repository's engine with its secrets bound: for runs, and for `config validate --deep`.
 * restic's is always loaded (most runs use it, and most commands use its modules anyway); the
 * kopia adapter and the replication targets only when a repository uses them: their modules'
 * start-up is time every other run would spend for nothing.
 */
export async function openEngine(
  config: Config,
  repoName: string,
  repo: Repository,
  secrets: RepositorySecrets,
): Promise<RepositoryEngine> {
  switch (repo.engine) {
    case "restic":
      return new ResticEngine(
        repoName,
        // The global default binary is folded in here, so every restic command sees one key.
        config.restic_binary !== undefined && repo.restic_binary === undefined
          ? { ...repo, restic_binary: config.restic_binary }
          : repo,
        secrets,
        repo.cache_dir ?? join(config.state_dir, "cache", "restic"),
      );
    case "kopia": {
      const { KopiaEngine } = await import("./kopia-engine.js");
      return new KopiaEngine(repoName, repo, secrets, {
        logDir: join(config.state_dir, "kopia", "logs", repoName),
      });
    }
    case "btrfs": {
      const { BtrfsTargetEngine } = await import("./replication/index.js");
      return new BtrfsTargetEngine(repoName, repo, config.state_dir);
    }
    case "zfs": {
      const { ZfsTargetEngine } = await import("./replication/index.js");
      return new ZfsTargetEngine(repoName, repo, config.state_dir);
    }
    default:
      throw new UsageError(
        `repositories.${repoName}.engine = "${(repo as { engine: string }).engine}" is not supported by this version of snapback yet`,
      );
  }
}
