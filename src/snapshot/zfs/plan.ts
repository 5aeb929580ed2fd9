import { join, relative } from "node:path";
import { SnapbackError } from "../../errors.js";
import { commandLine } from "../../exec/index.js";
import { isUnder } from "../../util/paths.js";
import type { DetectedSource, SnapshotPlan, ViewBind } from "../../core/snapshot.js";
import { zfsCapabilities, type ZfsCapabilities } from "./capabilities.js";
import {
  cloneName,
  exposeCommands,
  exposeMethod,
  PROP_PLAN,
  PROP_RUN,
  poolOf,
  snapshotCommand,
  snapshotMethod,
  commonAncestor,
  snapshotName,
  viewDir,
  groupViewDir,
  type ExposeMethod,
  type SnapshotMethod,
} from "./commands.js";
import { mountTargetsByDataset, zfsMounts } from "./mounts.js";
import { listTree, tail } from "./zfs.js";

/** One dataset of a group and the directory of ours that shows its snapshot. */
export interface DatasetView {
  dataset: string;
  /** Where the live dataset is mounted. */
  mountpoint: string;
  dir: string;
  clone?: string;
}

/** Carried in SnapshotPlan.detail from plan() to take() and release(). */
export interface ZfsGroupDetail {
  pool: string;
  runId: string;
  snapName: string;
  props: Record<string, string>;
  /** Datasets whose snapshots the view needs, sorted (parents first). */
  datasets: string[];
  method: SnapshotMethod;
  /** For the recursive method: where `-r` is applied. */
  ancestor?: string;
  expose: ExposeMethod;
  views: DatasetView[];
  /** The group directory under VIEW_ROOT. */
  groupDir: string;
  /** Parents before children. */
  binds: ViewBind[];
}

export function groupDetail(plan: SnapshotPlan): ZfsGroupDetail {
  const d = plan.detail as Partial<ZfsGroupDetail> | null;
  if (plan.kind !== "zfs" || !d || typeof d.snapName !== "string" || !Array.isArray(d.views)) {
    throw new Error("not a ZFS snapshot plan");
  }
  return d as ZfsGroupDetail;
}

interface SourceEntry {
  source: DetectedSource;
  dataset: string;
  /** The source's path inside its dataset ("" for the dataset's root). */
  rel: string;
}

function depth(p: string): number {
  return p === "/" ? 0 : p.split("/").length - 1;
}

/** Orders binds so a parent is mounted before anything below it; drops duplicate targets. */
export function orderBinds(binds: readonly ViewBind[]): ViewBind[] {
  const seen = new Set<string>();
  return binds
    .map((b, i) => ({ b, i }))
    .sort((x, y) => depth(x.b.to) - depth(y.b.to) || x.i - y.i)
    .map(({ b }) => b)
    .filter((b) => (seen.has(b.to) ? false : (seen.add(b.to), true)));
}

export async function planZfs(
  sources: readonly DetectedSource[],
  ctx: { plan: string; runId: string; recursive: boolean },
): Promise<SnapshotPlan[]> {
  if (sources.length === 0) return [];
  const caps = await zfsCapabilities();
  if (!caps.available) {
    throw new SnapbackError(
      `ZFS is not available for ${sources.map((s) => s.path).join(", ")}: ${caps.reason ?? "zfs failed"}`,
      {
        hint:
          caps.implementation === "zfs-fuse"
            ? "start the zfs-fuse daemon"
            : "check that the zfs module is loaded",
      },
    );
  }
  const expose = exposeMethod(caps);
  if (!expose)
    throw new SnapbackError(
      "this ZFS can neither mount snapshots nor clone them: no way to show a snapshot",
    );

  const byPool = new Map<string, SourceEntry[]>();
  for (const source of sources) {
    const dataset = source.mount.source;
    if (!dataset || dataset.includes("@") || dataset.startsWith("/")) {
      throw new SnapbackError(
        `${source.path}: ${dataset} is not a ZFS dataset (a snapshot or device cannot be snapshotted)`,
      );
    }
    const rel = relative(source.mount.target, source.path);
    if (rel.startsWith(".."))
      throw new SnapbackError(`${source.path} is not below its mount ${source.mount.target}`);
    const pool = poolOf(dataset);
    byPool.set(pool, [...(byPool.get(pool) ?? []), { source, dataset, rel }]);
  }

  const targets = mountTargetsByDataset(await zfsMounts());
  const plans: SnapshotPlan[] = [];
  for (const [pool, entries] of byPool) {
    plans.push(await planPool(caps, expose, pool, entries, targets, ctx));
  }
  return plans;
}

async function planPool(
  caps: ZfsCapabilities,
  expose: ExposeMethod,
  pool: string,
  entries: SourceEntry[],
  targets: Map<string, string[]>,
  ctx: { plan: string; runId: string; recursive: boolean },
): Promise<SnapshotPlan> {
  const mountpointOf = new Map<string, string>(
    entries.map((e) => [e.dataset, e.source.mount.target]),
  );
  const binds: { dataset: string; rel: string; to: string }[] = entries.map((e) => ({
    dataset: e.dataset,
    rel: e.rel,
    to: e.source.path,
  }));
  const nested: string[] = [];

  if (ctx.recursive) {
    const roots = [...new Set(entries.map((e) => e.dataset))];
    let tree: string[];
    try {
      tree = await listTree(roots);
    } catch (e) {
      throw new SnapbackError(`cannot list the child datasets of ${roots.join(", ")}: ${tail(e)}`, {
        cause: e,
      });
    }
    for (const e of entries) {
      for (const child of tree) {
        if (!child.startsWith(`${e.dataset}/`)) continue;
        // Only children mounted inside the source are part of what the user sees there.
        for (const target of targets.get(child) ?? []) {
          if (target === e.source.path || !isUnder(target, e.source.path)) continue;
          binds.push({ dataset: child, rel: "", to: target });
          if (!mountpointOf.has(child)) mountpointOf.set(child, target);
          nested.push(target);
        }
      }
    }
  }

  const datasets = [...mountpointOf.keys()].sort();
  const snapName = snapshotName(ctx.plan, ctx.runId);
  const props = { [PROP_RUN]: ctx.runId, [PROP_PLAN]: ctx.plan };
  const method = snapshotMethod(caps, datasets);
  const ancestor = method === "recursive" ? commonAncestor(datasets) : undefined;
  const subtree = ancestor === undefined ? [] : await listTree([ancestor]);
  const snap = snapshotCommand(caps, datasets, snapName, props, subtree);

  const views: DatasetView[] = datasets.map((dataset) => ({
    dataset,
    mountpoint: mountpointOf.get(dataset) ?? "",
    dir: viewDir(ctx.plan, ctx.runId, dataset),
    ...(expose === "clone" ? { clone: cloneName(ctx.plan, ctx.runId, dataset) } : {}),
  }));
  const dirOf = new Map(views.map((v) => [v.dataset, v.dir]));
  const viewBinds = orderBinds(
    binds.map((b) => ({
      from: b.rel ? join(dirOf.get(b.dataset) ?? "", b.rel) : (dirOf.get(b.dataset) ?? ""),
      to: b.to,
    })),
  );

  const steps = [
    `${commandLine(snap.command.file, snap.command.args)}   # one atomic snapshot of ${datasets.join(", ")}`,
  ];
  for (const extra of snap.extras) steps.push(`zfs destroy ${extra}   # made only by -r`);
  for (const v of views) {
    for (const c of exposeCommands(
      expose,
      {
        snapshot: `${v.dataset}@${snapName}`,
        dir: v.dir,
        mountpoint: v.mountpoint,
        ...(v.clone ? { clone: v.clone } : {}),
      },
      props,
    )) {
      steps.push(commandLine(c.file, c.args));
    }
  }
  for (const b of viewBinds) steps.push(`bind ${b.from} -> ${b.to} (read-only, in the view)`);

  const detail: ZfsGroupDetail = {
    pool,
    runId: ctx.runId,
    snapName,
    props,
    datasets,
    method: snap.method,
    ...(snap.ancestor === undefined ? {} : { ancestor: snap.ancestor }),
    expose,
    views,
    groupDir: groupViewDir(ctx.plan, ctx.runId, pool),
    binds: viewBinds,
  };
  return {
    kind: "zfs",
    sources: entries.map((e) => e.source.path),
    atomic: true,
    steps,
    nested: [...new Set(nested)],
    detail,
  };
}
