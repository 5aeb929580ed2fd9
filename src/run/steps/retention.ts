import type { Config } from "../../config/schema.js";
import { databasesOf, dumpSelector } from "../../databases/index.js";
import { displayUrl, optionArgs } from "../../engine/restic/index.js";
import { forgetArgs } from "../../engine/restic/forget.js";
import type { RepositoryEngine } from "../../engine/types.js";
import type { RunPlan } from "../../core/plan.js";
import { hasKeepRules, keepRules, retentionAfterBackup } from "../retention.js";
import type { RunState, RunStep } from "./types.js";

/** The repositories this run has backed up to: only they get retention and the check. */
export interface BackedUp {
  backedUp: RepositoryEngine[];
}

/**
 * The plan's retention (with a `[plans.X.retention]` table) on the repositories just backed
 * up and on the local restore points. Never fails the backup: problems become warnings.
 */
export const retention: RunStep<RunState & { ready: readonly RepositoryEngine[] }, BackedUp> = {
  name: "retention",
  async run({ p, ready, record, emit, signal, warn }) {
    const backedUp = ready.filter((e) => record.summaries.some((s) => s.repository === e.repoName));
    if (backedUp.length > 0 && p.plan.retention) {
      emit({ type: "phase", plan: p.planName, phase: "retention" });
      record.afterBackup.retention = await retentionAfterBackup({
        run: p,
        engines: backedUp,
        signal,
        warn,
      });
    }
    return { backedUp };
  },
  describe: ({ config, p }) => describeRetention(config, p).map((a) => `  after: ${a}`),
};

/** What `retention` would run, as `backup --dry-run` shows it. */
export function describeRetention(config: Config, p: RunPlan): string[] {
  const lines: string[] = [];
  const retention = p.plan.retention;
  if (!retention) return lines;
  const rules = keepRules(retention);
  for (const repoName of p.repositories) {
    const repo = config.repositories[repoName];
    if (!repo) continue;
    if (!hasKeepRules(rules)) {
      lines.push(`[${repoName}] retention: no keep_* rule, every backup is kept`);
      continue;
    }
    if (repo.engine !== "restic") {
      lines.push(`[${repoName}] retention: ${repo.engine} keep rules ${JSON.stringify(rules)}`);
      continue;
    }
    const restic = (args: string[]): string =>
      `[${repoName}] RESTIC_REPOSITORY=${displayUrl(repo.url)} restic ${[...optionArgs(repo), ...args].join(" ")}`;
    lines.push(restic(forgetArgs({ planName: p.planName, host: p.host, rules, dryRun: false })));
    for (const db of databasesOf(p.plan)) {
      lines.push(
        restic(
          forgetArgs({
            planName: p.planName,
            host: p.host,
            rules,
            dryRun: false,
            tags: dumpSelector(p.planName, db.name),
          }),
        ),
      );
    }
    if (retention.prune) lines.push(`${restic(["prune"])}   (when forget removed a backup)`);
  }
  lines.push(
    `local restore points: keep the newest ${retention.local_snapshots} run(s) of snapshots on the sources`,
  );
  return lines;
}
