import { run } from "../../exec/index.js";
import { isUnder } from "../../util/paths.js";
import { zfsCapabilities } from "./capabilities.js";
import { listObjectsCommand, PROP_PLAN, PROP_RUN, VIEW_ROOT } from "./commands.js";
import { reclaimClone, reclaimMount, reclaimSnapshot } from "./reclaim.js";
import { rows } from "./zfs.js";

/** A snapshot or clone that carries snapback's property, for `snapback cleanup`. */
export interface SnapbackZfsObject {
  name: string;
  type: "snapshot" | "clone";
  /** The run that created it. */
  run: string;
  plan?: string;
  /** Creation time (seconds since the epoch). */
  creation?: number;
  /** A clone's mount point (one of snapback's view directories). */
  mountpoint?: string;
}

/** Everything snapback created that still exists, found by its user property. */
export async function listSnapbackObjects(): Promise<SnapbackZfsObject[]> {
  const caps = await zfsCapabilities();
  if (!caps.available) return [];
  const cmd = listObjectsCommand(caps);
  const out = (await run(cmd.file, cmd.args)).stdout;
  const byName = new Map<string, Record<string, string>>();
  if (caps.listParsable) {
    for (const [name, type, creation, runId, plan, mountpoint] of rows(out)) {
      if (name)
        byName.set(name, {
          type: type ?? "",
          creation: creation ?? "",
          [PROP_RUN]: runId ?? "-",
          [PROP_PLAN]: plan ?? "-",
          mountpoint: mountpoint ?? "-",
        });
    }
  } else {
    for (const [name, property, value] of rows(out)) {
      if (name && property) byName.set(name, { ...byName.get(name), [property]: value ?? "-" });
    }
  }
  const objects: SnapbackZfsObject[] = [];
  for (const [name, p] of byName) {
    const runId = p[PROP_RUN];
    if (!runId || runId === "-") continue;
    const type =
      p["type"] === "snapshot" ? "snapshot" : p["type"] === "filesystem" ? "clone" : undefined;
    if (!type) continue;
    const creation = Number(p["creation"]);
    const plan = p[PROP_PLAN];
    const mountpoint = p["mountpoint"];
    objects.push({
      name,
      type,
      run: runId,
      ...(plan && plan !== "-" ? { plan } : {}),
      ...(Number.isFinite(creation) && p["creation"] ? { creation } : {}),
      ...(type === "clone" && mountpoint && mountpoint.startsWith("/") ? { mountpoint } : {}),
    });
  }
  return objects.sort((a, b) => a.name.localeCompare(b.name));
}

/** Removes one listed object (a clone together with its view directory). */
export async function removeSnapbackObject(o: SnapbackZfsObject): Promise<void> {
  if (o.type === "snapshot") return reclaimSnapshot(o.name);
  await reclaimClone(o.name);
  if (o.mountpoint !== undefined && isUnder(o.mountpoint, VIEW_ROOT))
    await reclaimMount(o.mountpoint);
}
