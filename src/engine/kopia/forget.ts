import { log } from "../../log.js";
import type { ForgetReport, KeepRules, RetainedSnapshot } from "../types.js";
import { failure, runKopia, type KopiaOptions, type KopiaTarget } from "./command.js";
import { retentionFlags } from "./policy.js";
import { engineSnapshot, listSnapshots, type KopiaSnapshot } from "./snapshots.js";

export interface ForgetOptions extends KopiaOptions {
  planName: string;
  /** The client host whose sources are meant (kopia only expires its own user@host's). */
  host: string;
  rules: KeepRules;
  dryRun: boolean;
}

/**
 * kopia's retention is the policy of each source path: the rules are written into the
 * policies of the plan's source paths, the list then says what that policy keeps (kopia
 * prints "retentionReason" per snapshot), and `snapshot expire --delete` removes the rest.
 * With no rule at all nothing is changed or removed, as restic refuses an empty forget.
 */
export async function forget(target: KopiaTarget, opts: ForgetOptions): Promise<ForgetReport> {
  const mine = (all: KopiaSnapshot[]): KopiaSnapshot[] => all.filter((s) => s.host === opts.host);
  const before = mine(await listSnapshots(target, { ...opts, planName: opts.planName }));
  const flags = retentionFlags(opts.rules);
  if (!flags || before.length === 0)
    return { keep: before.map((s) => retained(s, ["no rule"])), remove: [] };
  const paths = [...new Set(before.map((s) => s.manifest.source.path))].sort();
  if (opts.rules.within !== undefined)
    log.warn(`repository "${target.repoName}": kopia has no keep_within; it is not applied`);
  await runKopia(target, ["policy", "set", ...flags, ...paths], { ...opts, action: "policy set" });
  const judged = mine(await listSnapshots(target, { ...opts, planName: opts.planName }));
  const known = judged.some((s) => s.manifest.retentionReasons !== undefined);
  const keep = judged.filter((s) => !known || (s.manifest.retentionReasons?.length ?? 0) > 0);
  const remove = known
    ? judged.filter((s) => (s.manifest.retentionReasons?.length ?? 0) === 0)
    : [];
  if (!opts.dryRun && (remove.length > 0 || !known)) {
    await runKopia(target, ["snapshot", "expire", "--delete", ...paths], {
      ...opts,
      action: "snapshot expire",
    });
  }
  return {
    keep: keep.map((s) => retained(s, s.manifest.retentionReasons ?? [])),
    remove: remove.map((s) => retained(s, [])),
  };
}

function retained(s: KopiaSnapshot, reasons: string[]): RetainedSnapshot {
  return { ...engineSnapshot(s), reasons };
}

/**
 * Frees the space of expired snapshots: `kopia maintenance run --full`. Only the
 * repository's maintenance owner may run it; for anyone else it is a warning, not a failure.
 */
export async function maintenance(target: KopiaTarget, options: KopiaOptions = {}): Promise<void> {
  const r = await runKopia(target, ["maintenance", "run", "--full"], {
    ...options,
    action: "maintenance run",
    okExitCodes: [0, 1],
  });
  if (r.exitCode === 0) return;
  if (/maintenance must be run by|not the maintenance owner|is not owned by/i.test(r.stderr)) {
    log.warn(
      `repository "${target.repoName}": another kopia client owns maintenance; space is freed when it runs`,
    );
    return;
  }
  throw failure(target, "maintenance run", r);
}
