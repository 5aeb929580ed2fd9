import { hostname } from "node:os";
import { join } from "node:path";
import type { Config } from "../config/schema.js";
import { UsageError } from "../errors.js";
import { detectSources, listMounts } from "../snapshot/detect.js";
import { providerFor } from "../snapshot/registry.js";
import type { RunPlan } from "../core/plan.js";
import type { DetectedSource } from "../core/snapshot.js";
import { discoverDatasets } from "../snapshot/zfs/index.js";
import { ROOT_SYSTEM_MOUNTS } from "../view/script.js";
import { isUnder, normalizePath } from "../util/paths.js";

export async function planRun(config: Config, planName: string, runId: string): Promise<RunPlan> {
  const plan = config.plans[planName];
  if (!plan) {
    throw new UsageError(
      `unknown plan "${planName}" (defined: ${Object.keys(config.plans).join(", ") || "none"})`,
    );
  }
  const warnings: string[] = [];
  const sourcePaths = plan.sources.map(normalizePath);
  if (plan.zfs_datasets) {
    const found = await discoverDatasets(plan.zfs_datasets, planName);
    for (const s of found.skipped) warnings.push(`ZFS dataset ${s.dataset} skipped: ${s.reason}`);
    for (const s of found.sources) if (!sourcePaths.includes(s)) sourcePaths.push(s);
    if (sourcePaths.length === 0) {
      throw new UsageError(
        `plans.${planName}.zfs_datasets = "${plan.zfs_datasets}" found no mounted dataset to back up`,
      );
    }
  }
  const sources = await detectSources(planName, sourcePaths, plan.snapshot);

  const byKind = new Map<string, DetectedSource[]>();
  for (const s of sources) byKind.set(s.kind, [...(byKind.get(s.kind) ?? []), s]);
  const groups: RunPlan["groups"] = [];
  for (const [kind, list] of byKind) {
    const provider = providerFor(kind as DetectedSource["kind"]);
    const planned = await provider.plan(list, {
      plan: planName,
      runId,
      recursive: plan.recursive,
      ...(plan.snapshot_dir === undefined ? {} : { snapshotDir: plan.snapshot_dir }),
    });
    for (const snapshot of planned) groups.push({ provider, snapshot });
  }

  const notPointInTime = sources.filter((s) => s.kind === "none").map((s) => s.path);
  warnings.push(...(await hiddenMountWarnings(sources, groups)));

  const stateDir = config.state_dir;
  const internalExcludes = [stateDir].filter((p) => sources.some((s) => isUnder(p, s.path)));
  if (sources.some((s) => s.kind !== "none")) internalExcludes.push(".snapback");
  if (plan.snapshot_dir && sources.some((s) => isUnder(plan.snapshot_dir ?? "", s.path))) {
    internalExcludes.push(plan.snapshot_dir);
  }
  if (sources.some((s) => s.path === "/")) internalExcludes.push(...ROOT_SYSTEM_MOUNTS);

  return {
    planName,
    plan,
    runId,
    stateDir,
    host: plan.host ?? hostname(),
    sources,
    groups,
    repositories: plan.repositories,
    internalExcludes,
    tmpDir: join(stateDir, "tmp", runId),
    notPointInTime,
    warnings,
  };
}

/**
 * A bind of a snapshot over a source hides whatever is mounted below that source. Say so,
 * unless the hidden mount is itself a source or a nested snapshot mounted into place.
 */
async function hiddenMountWarnings(
  sources: DetectedSource[],
  groups: RunPlan["groups"],
): Promise<string[]> {
  const snapshotted = sources.filter((s) => s.kind !== "none");
  if (snapshotted.length === 0) return [];
  const mounts = await listMounts();
  const covered = new Set([
    ...sources.map((s) => s.path),
    ...groups.flatMap((g) => g.snapshot.nested),
  ]);
  const warnings: string[] = [];
  for (const { target, fstype } of mounts) {
    if (covered.has(target)) continue;
    const parent = snapshotted.find((s) => target !== s.path && isUnder(target, s.path));
    if (!parent) continue;
    if (parent.path === "/" && ROOT_SYSTEM_MOUNTS.some((m) => isUnder(target, m))) continue;
    warnings.push(
      `${target} (${fstype}) is mounted below ${parent.path} but is not a source: it is not in the backup`,
    );
  }
  return warnings;
}
