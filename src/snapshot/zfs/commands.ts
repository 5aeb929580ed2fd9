import { createHash } from "node:crypto";
import type { ZfsCapabilities } from "./capabilities.js";

/**
 * Pure construction of every command the ZFS provider runs, from a capabilities object.
 * Only zfs-fuse exists on the test machines, so the OpenZFS paths are proven here.
 */

/** User properties snapback sets on what it creates, and reads to find what to back up. */
export const PROP_RUN = "snapback:run";
export const PROP_PLAN = "snapback:plan";
export const PROP_BACKUP = "snapback:backup";

/** Transient mount points for snapshot views; under /run so nothing lands at a user path. */
export const VIEW_ROOT = "/run/snapback/zfs";

export interface Command {
  file: string;
  args: string[];
  /** Run only when nothing is mounted at the view directory yet. */
  unlessMounted?: true;
}

/** Dataset names allow letters, digits and `_.:-`; plan names and run ids are mapped onto that. */
export function safeComponent(s: string): string {
  return s.replace(/[^A-Za-z0-9_.:-]/g, "-");
}

/** One name per run and plan, so it can never collide with a user's or another run's snapshot. */
export function runTag(plan: string, runId: string): string {
  return `${safeComponent(plan)}-${safeComponent(runId)}`;
}

export function snapshotName(plan: string, runId: string): string {
  return `snapback-${runTag(plan, runId)}`;
}

/** A short, stable key per dataset: names and directories never depend on list order. */
export function datasetKey(dataset: string): string {
  return createHash("sha256").update(dataset).digest("hex").slice(0, 10);
}

export function cloneName(plan: string, runId: string, dataset: string): string {
  return `${poolOf(dataset)}/snapback-${runTag(plan, runId)}-${datasetKey(dataset)}`;
}

/** Holds the view directories of one pool's group in one run. */
export function groupViewDir(plan: string, runId: string, pool: string, root = VIEW_ROOT): string {
  return `${root}/${runTag(plan, runId)}/${pool}`;
}

export function viewDir(plan: string, runId: string, dataset: string, root = VIEW_ROOT): string {
  return `${groupViewDir(plan, runId, poolOf(dataset), root)}/${datasetKey(dataset)}`;
}

export function poolOf(dataset: string): string {
  return dataset.split(/[/@]/)[0] ?? dataset;
}

/** The deepest dataset that is an ancestor of (or equal to) every one of `datasets`. */
export function commonAncestor(datasets: readonly string[]): string {
  const split = datasets.map((d) => d.split("/"));
  const first = split[0] ?? [];
  let n = first.length;
  for (const parts of split) {
    let i = 0;
    while (i < n && i < parts.length && parts[i] === first[i]) i++;
    n = i;
  }
  if (n === 0) throw new Error(`datasets are in different pools: ${datasets.join(", ")}`);
  return first.slice(0, n).join("/");
}

export function isDescendantOrSelf(dataset: string, ancestor: string): boolean {
  return dataset === ancestor || dataset.startsWith(`${ancestor}/`);
}

export type SnapshotMethod = "single" | "multi" | "recursive";

/**
 * How one atomic group is snapshotted: several names in one command where ZFS takes them,
 * else `-r` on the common ancestor (one transaction too) followed by removal of the extra
 * snapshots it made. Never one command per dataset: that would not be one instant.
 */
export function snapshotMethod(
  caps: Pick<ZfsCapabilities, "multiNameSnapshot">,
  datasets: readonly string[],
): SnapshotMethod {
  if (datasets.length === 1) return "single";
  return caps.multiNameSnapshot ? "multi" : "recursive";
}

export interface SnapshotCommand {
  method: SnapshotMethod;
  command: Command;
  /** Every snapshot the command creates (wanted and extra). */
  creates: string[];
  /** Snapshots made only because `-r` cannot leave datasets out; destroyed right after. */
  extras: string[];
  ancestor?: string;
}

function propertyArgs(props: Readonly<Record<string, string>>): string[] {
  return Object.entries(props).flatMap(([k, v]) => ["-o", `${k}=${v}`]);
}

/**
 * @param subtree for the recursive method: every filesystem and volume at and below the
 *   common ancestor (what `-r` will snapshot).
 */
export function snapshotCommand(
  caps: Pick<ZfsCapabilities, "multiNameSnapshot">,
  datasets: readonly string[],
  snap: string,
  props: Readonly<Record<string, string>>,
  subtree: readonly string[] = [],
): SnapshotCommand {
  const method = snapshotMethod(caps, datasets);
  const wanted = datasets.map((d) => `${d}@${snap}`);
  if (method !== "recursive") {
    return {
      method,
      command: { file: "zfs", args: ["snapshot", ...propertyArgs(props), ...wanted] },
      creates: wanted,
      extras: [],
    };
  }
  const ancestor = commonAncestor(datasets);
  const tree = [
    ...new Set([ancestor, ...subtree.filter((d) => isDescendantOrSelf(d, ancestor)), ...datasets]),
  ].sort();
  const creates = tree.map((d) => `${d}@${snap}`);
  return {
    method,
    command: {
      file: "zfs",
      args: ["snapshot", "-r", ...propertyArgs(props), `${ancestor}@${snap}`],
    },
    creates,
    extras: creates.filter((s) => !wanted.includes(s)),
    ancestor,
  };
}

export type ExposeMethod = "mount" | "snapdir" | "clone";

/**
 * How a snapshot is made readable at a directory of ours: mount it directly (kernel ZFS),
 * bind its `.zfs/snapshot` entry, or — where neither exists (zfs-fuse) — a read-only clone.
 */
export function exposeMethod(
  caps: Pick<ZfsCapabilities, "snapshotMount" | "snapshotDir" | "clones">,
): ExposeMethod | undefined {
  if (caps.snapshotMount) return "mount";
  if (caps.snapshotDir) return "snapdir";
  if (caps.clones) return "clone";
  return undefined;
}

export interface ExposeTarget {
  /** `pool/fs@snap` */
  snapshot: string;
  /** Our directory that shows the snapshot. */
  dir: string;
  /** Where the live dataset is mounted (for `.zfs/snapshot`). */
  mountpoint: string;
  /** For the clone method. */
  clone?: string;
}

export function exposeCommands(
  method: ExposeMethod,
  t: ExposeTarget,
  props: Readonly<Record<string, string>>,
): Command[] {
  switch (method) {
    case "mount":
      return [{ file: "mount", args: ["-t", "zfs", "-o", "ro", t.snapshot, t.dir] }];
    case "snapdir": {
      const snapName = t.snapshot.slice(t.snapshot.indexOf("@") + 1);
      const path = `${t.mountpoint === "/" ? "" : t.mountpoint}/.zfs/snapshot/${snapName}`;
      return [
        { file: "mount", args: ["--bind", path, t.dir] },
        { file: "mount", args: ["-o", "remount,bind,ro", t.dir] },
      ];
    }
    case "clone": {
      if (!t.clone) throw new Error("clone method needs a clone name");
      // canmount=noauto: never mounted again by an import or `zfs mount -a` after a crash.
      return [
        {
          file: "zfs",
          args: [
            "clone",
            "-o",
            "readonly=on",
            "-o",
            "canmount=noauto",
            "-o",
            `mountpoint=${t.dir}`,
            ...propertyArgs(props),
            t.snapshot,
            t.clone,
          ],
        },
        // zfs-fuse mounts a clone on creation whatever canmount says; OpenZFS does not.
        { file: "zfs", args: ["mount", t.clone], unlessMounted: true },
      ];
    }
  }
}

/** Lists everything that carries snapback's property, with its creation time in seconds. */
export function listObjectsCommand(caps: Pick<ZfsCapabilities, "listParsable">): Command {
  const props = ["type", "creation", PROP_RUN, PROP_PLAN, "mountpoint"];
  return caps.listParsable
    ? { file: "zfs", args: ["list", "-H", "-p", "-t", "all", "-o", ["name", ...props].join(",")] }
    : // Without `list -p`, `get -p -r` over all pools gives exact numbers, one property a line.
      {
        file: "zfs",
        args: ["get", "-H", "-p", "-r", "-o", "name,property,value", props.join(",")],
      };
}
