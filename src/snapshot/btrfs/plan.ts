import { realpath, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import { UsageError } from "../../errors.js";
import { commandLine } from "../../exec/index.js";
import { isUnder, normalizePath } from "../../util/paths.js";
import { listMounts, mountOf } from "../detect.js";
import type { DetectedSource, MountInfo, SnapshotPlan, ViewBind } from "../../core/snapshot.js";
import { SNAPSHOT_DIR_NAME, formatSnapshotName, parseSnapshotName } from "./naming.js";
import {
  SUBVOLUME_ROOT_INO,
  existingAncestor,
  filesystemUuid,
  findSubvolumeRoot,
  listSubvolumes,
} from "./subvolume.js";

/** One `btrfs subvolume snapshot -r <subvolume> <snapshot>`. */
export interface BtrfsSnapshotStep {
  subvolume: string;
  snapshot: string;
}

/** What take() executes for one plan item, computed (read-only) by plan(). */
export interface BtrfsPlanDetail {
  /** Directories to create (0700) before snapshotting. */
  snapshotDirs: string[];
  /** The item's subvolume first, then nested subvolumes parents before children. */
  snapshots: BtrfsSnapshotStep[];
  binds: ViewBind[];
}

export interface BtrfsPlanContext {
  plan: string;
  runId: string;
  snapshotDir?: string;
}

interface Located {
  source: DetectedSource;
  real: string;
  root: string;
}

interface Group {
  mount: MountInfo;
  root: string;
  members: Located[];
  /** Real paths of nested subvolumes below the members, parents first. */
  nested: string[];
}

export function isBtrfsPlanDetail(d: unknown): d is BtrfsPlanDetail {
  if (typeof d !== "object" || d === null) return false;
  const o = d as Record<string, unknown>;
  return (
    Array.isArray(o["snapshotDirs"]) && Array.isArray(o["snapshots"]) && Array.isArray(o["binds"])
  );
}

const depth = (p: string): number => (p === "/" ? 0 : p.split("/").length - 1);

/**
 * Groups the sources by the subvolume holding them (one snapshot per subvolume, however many
 * sources it holds), adds the subvolumes nested below the sources (btrfs snapshots are not
 * recursive: a nested subvolume shows up as an empty directory), and names every snapshot.
 * Touches nothing.
 */
export async function planBtrfs(
  sources: DetectedSource[],
  ctx: BtrfsPlanContext,
): Promise<SnapshotPlan[]> {
  if (sources.length === 0) return [];
  const snapshotDir = ctx.snapshotDir === undefined ? undefined : normalizePath(ctx.snapshotDir);

  const located: Located[] = [];
  for (const source of sources) {
    if (source.kind !== "btrfs")
      throw new UsageError(`${source.path} is on ${source.mount.fstype}, not btrfs`);
    const real = await realpath(source.path);
    located.push({ source, real, root: await findSubvolumeRoot(real, source.mount) });
  }

  const groups = new Map<string, Group>();
  for (const l of located) {
    const g = groups.get(l.root);
    if (g) g.members.push(l);
    else groups.set(l.root, { mount: l.source.mount, root: l.root, members: [l], nested: [] });
  }

  const mounts = await listMounts();
  const listings = new Map<string, Promise<string[]>>();
  const subvolumesOf = (mount: MountInfo): Promise<string[]> => {
    let p = listings.get(mount.target);
    if (!p) {
      p = visibleSubvolumes(mount, mounts);
      listings.set(mount.target, p);
    }
    return p;
  };
  for (const g of groups.values()) {
    const all = await subvolumesOf(g.mount);
    const nested = all.filter(
      (p) =>
        p !== g.root &&
        g.members.some((m) => p !== m.real && isUnder(p, m.real)) &&
        !isOurs(p) &&
        !(snapshotDir !== undefined && isUnder(p, snapshotDir)),
    );
    g.nested = await confirmSubvolumes(nested.sort((a, b) => depth(a) - depth(b)));
  }

  // A source whose subvolume is nested below another source is already captured there.
  const ordered = [...groups.values()].sort((a, b) => depth(a.root) - depth(b.root));
  const items: Group[] = [];
  for (const g of ordered) {
    const host = items.find((h) => h.mount.target === g.mount.target && h.nested.includes(g.root));
    if (!host) {
      items.push(g);
      continue;
    }
    host.members.push(...g.members);
    for (const n of g.nested) if (!host.nested.includes(n)) host.nested.push(n);
    host.nested.sort((a, b) => depth(a) - depth(b));
  }

  if (snapshotDir !== undefined) await checkSnapshotDir(snapshotDir, items, ctx.plan, mounts);

  const plans: SnapshotPlan[] = [];
  for (const [i, g] of items.entries()) {
    const item = i + 1;
    const dir = snapshotDir ?? join(g.root, SNAPSHOT_DIR_NAME);
    const snapshotOf = new Map<string, string>();
    const snapshots: BtrfsSnapshotStep[] = [g.root, ...g.nested].map((subvolume, n) => {
      const name = formatSnapshotName(
        n === 0
          ? { plan: ctx.plan, runId: ctx.runId, item }
          : { plan: ctx.plan, runId: ctx.runId, item, nested: n },
      );
      const snapshot = join(dir, name);
      snapshotOf.set(subvolume, snapshot);
      return { subvolume, snapshot };
    });

    const binds: ViewBind[] = [];
    for (const m of g.members) {
      const holder = [g.root, ...g.nested]
        .filter((s) => isUnder(m.real, s))
        .sort((a, b) => depth(b) - depth(a))[0];
      const snap = holder === undefined ? undefined : snapshotOf.get(holder);
      if (holder === undefined || snap === undefined)
        throw new Error(`internal: no snapshot holds ${m.real}`);
      binds.push({ from: join(snap, relative(holder, m.real)), to: m.source.path });
    }
    for (const n of g.nested) {
      const snap = snapshotOf.get(n) ?? "";
      // Shown under the source's own spelling of the path (the engine records that one).
      const member = g.members.find((m) => isUnder(n, m.real));
      const to = member ? join(member.source.path, relative(member.real, n)) : n;
      if (!binds.some((b) => b.to === to)) binds.push({ from: snap, to });
    }
    binds.sort((a, b) => depth(a.to) - depth(b.to));

    const missingDirs = (await existingAncestor(dir)) === dir ? [] : [dir];
    const steps = [
      ...missingDirs.map((d) => commandLine("mkdir", ["-p", "-m", "0700", d])),
      ...snapshots.map((s) =>
        commandLine("btrfs", ["subvolume", "snapshot", "-r", s.subvolume, s.snapshot]),
      ),
    ];
    const detail: BtrfsPlanDetail = { snapshotDirs: [dir], snapshots, binds };
    plans.push({
      kind: "btrfs",
      sources: g.members.map((m) => m.source.path),
      atomic: snapshots.length === 1,
      steps,
      nested: g.nested.map((n) => binds.find((b) => b.from === snapshotOf.get(n))?.to ?? n),
      detail,
    });
  }
  return plans;
}

/** Visible subvolume paths of the filesystem behind `mount`, excluding ones hidden by other mounts. */
async function visibleSubvolumes(
  mount: MountInfo,
  mounts: readonly MountInfo[],
): Promise<string[]> {
  const others = mounts.filter((m) => m.target !== mount.target && isUnder(m.target, mount.target));
  return (await listSubvolumes(mount))
    .map((s) => s.path)
    .filter((p): p is string => p !== undefined && !others.some((o) => isUnder(p, o.target)));
}

/** A snapback snapshot (or anything inside one) is never a subvolume to capture. */
function isOurs(path: string): boolean {
  return path.split("/").some((c) => parseSnapshotName(c) !== undefined);
}

/** The listing is from the subvolume tree; make sure each path really is that subvolume's root now. */
async function confirmSubvolumes(paths: string[]): Promise<string[]> {
  const ok: string[] = [];
  for (const p of paths) {
    try {
      const st = await stat(p);
      if (st.isDirectory() && st.ino === SUBVOLUME_ROOT_INO) ok.push(p);
    } catch {
      // Deleted or moved since the listing: nothing to capture.
    }
  }
  return ok;
}

async function checkSnapshotDir(
  dir: string,
  items: Group[],
  plan: string,
  mounts: readonly MountInfo[],
): Promise<void> {
  const key = `plans.${plan}.snapshot_dir`;
  const mount = mountOf(await realpath(await existingAncestor(dir)), mounts);
  if (mount?.fstype !== "btrfs")
    throw new UsageError(`${key}: ${dir} is not on a btrfs filesystem`);
  let uuid: Promise<string | undefined> | undefined;
  for (const g of items) {
    // The same device is the same filesystem; a multi-device one may be named by another device.
    if (g.mount.source === mount.source) continue;
    uuid ??= filesystemUuid(mount.target);
    const [own, theirs] = await Promise.all([filesystemUuid(g.mount.target), uuid]);
    if (own === undefined || own !== theirs) {
      throw new UsageError(
        `${key}: ${dir} is on another filesystem than ${g.members[0]?.source.path ?? g.root} (btrfs snapshots stay on their filesystem)`,
        { hint: `remove snapshot_dir to use ${join(g.root, SNAPSHOT_DIR_NAME)}` },
      );
    }
  }
}
