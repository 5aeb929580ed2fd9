import { SnapbackError } from "../../errors.js";
import { zfsCapabilities } from "./capabilities.js";
import { PROP_BACKUP, PROP_RUN } from "./commands.js";
import { mountTargetsByDataset, zfsMounts } from "./mounts.js";
import { rows, tail, zfs } from "./zfs.js";

export interface DiscoveredDatasets {
  /** Mount points of the datasets to back up, sorted. */
  sources: string[];
  /** Datasets that were chosen but cannot be backed up, and why. */
  skipped: { dataset: string; reason: string }[];
}

/** `snapback:backup=on` selects a dataset for every plan; a plan name (or a list) for those. */
export function selectedFor(value: string, planName: string): boolean {
  return value
    .split(",")
    .map((v) => v.trim())
    .some((v) => v === "on" || v === planName);
}

/**
 * Finds the datasets a plan with `zfs_datasets` backs up: those marked with the user property
 * (`property`), or every mounted dataset (`all`, where `snapback:backup=off` opts out).
 */
export async function discoverDatasets(
  mode: "property" | "all",
  planName: string,
): Promise<DiscoveredDatasets> {
  const caps = await zfsCapabilities();
  if (!caps.available) {
    throw new SnapbackError(
      `plans.${planName}.zfs_datasets = "${mode}": ZFS is not available: ${caps.reason ?? "zfs failed"}`,
    );
  }
  let out: string;
  try {
    out = (
      await zfs([
        "list",
        "-H",
        "-o",
        `name,mounted,canmount,${PROP_BACKUP},${PROP_RUN}`,
        "-t",
        "filesystem",
      ])
    ).stdout;
  } catch (e) {
    throw new SnapbackError(
      `plans.${planName}.zfs_datasets: cannot list ZFS datasets: ${tail(e)}`,
      { cause: e },
    );
  }
  const targets = mountTargetsByDataset(await zfsMounts());
  const sources = new Set<string>();
  const skipped: DiscoveredDatasets["skipped"] = [];
  for (const [name, mounted, canmount, backup = "-", createdBy = "-"] of rows(out)) {
    if (!name) continue;
    // Clones snapback mounts to show snapshots are never sources.
    if (createdBy !== "-") continue;
    if (mode === "property" && !selectedFor(backup, planName)) continue;
    if (mode === "all" && backup === "off") {
      skipped.push({ dataset: name, reason: `${PROP_BACKUP}=off` });
      continue;
    }
    if (mounted !== "yes") {
      skipped.push({
        dataset: name,
        reason: canmount === "on" ? "not mounted" : `not mounted (canmount=${canmount ?? "?"})`,
      });
      continue;
    }
    const target = (targets.get(name) ?? []).sort((a, b) => a.length - b.length)[0];
    if (target === undefined) {
      skipped.push({ dataset: name, reason: "mounted, but not visible in this mount namespace" });
      continue;
    }
    sources.add(target);
  }
  return { sources: [...sources].sort(), skipped };
}
