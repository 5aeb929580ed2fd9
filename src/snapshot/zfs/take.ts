import { mkdir } from "node:fs/promises";
import { SnapbackError, errorMessage } from "../../errors.js";
import { commandLine, run } from "../../exec/index.js";
import type {
  JournalEntry,
  SnapshotPlan,
  TakeContext,
  TakenSnapshot,
} from "../../core/snapshot.js";
import { zfsCapabilities } from "./capabilities.js";
import { exposeCommands, snapshotCommand, type Command } from "./commands.js";
import { mountAt } from "./mounts.js";
import { groupDetail, type DatasetView, type ZfsGroupDetail } from "./plan.js";
import { removeDirAndEmptyParents, unmountDir } from "./unmount.js";
import { destroyIfOurs, existingSnapshots, listTree, ownership, rows, tail, zfs } from "./zfs.js";

export interface ZfsTakenSnapshot extends TakenSnapshot {
  /** Every command take() ran, in order. */
  commands: string[];
  timings: { snapshotMs: number; exposeMs: number };
}

export function journalEntry(type: "snapshot" | "clone" | "mount", id: string): JournalEntry {
  return { provider: "zfs", type, id };
}

export async function takeZfs(plan: SnapshotPlan, ctx: TakeContext): Promise<ZfsTakenSnapshot> {
  const d = groupDetail(plan);
  if (d.runId !== ctx.runId)
    throw new Error(`ZFS plan of run ${d.runId} taken by run ${ctx.runId}`);
  const caps = await zfsCapabilities();
  const commands: string[] = [];
  const exec = async (c: Command): Promise<void> => {
    commands.push(commandLine(c.file, c.args));
    await run(c.file, c.args);
  };

  // Listed again: a dataset created since plan() is caught by -r too and must be journaled.
  const subtree =
    d.method === "recursive" && d.ancestor !== undefined ? await listTree([d.ancestor]) : [];
  const snap = snapshotCommand(caps, d.datasets, d.snapName, d.props, subtree);
  await refuseClashes(d, snap.creates);

  await ctx.journal.add(...snap.creates.map((s) => journalEntry("snapshot", s)));
  const t0 = performance.now();
  try {
    await exec(snap.command);
  } catch (e) {
    const clean = await succeeded(removeSnapshots(snap.creates, ctx));
    throw snapshotError(d, e, clean);
  }
  const t1 = performance.now();

  const wanted = new Set(d.datasets.map((ds) => `${ds}@${d.snapName}`));
  let t2: number;
  try {
    if (snap.method === "recursive" && snap.ancestor !== undefined) {
      const made = await snapshotsNamed(snap.ancestor, d.snapName);
      const extras = made.filter((s) => !wanted.has(s));
      commands.push(...extras.map((s) => `zfs destroy ${s}`));
      await removeSnapshots(extras, ctx);
    }
    t2 = performance.now();
    for (const v of d.views) await expose(d, v, ctx, exec);
  } catch (e) {
    // The caller only releases what take() returned: undo everything here.
    const why = tail(e);
    const clean =
      (await succeeded(releaseZfs(plan, ctx))) &&
      (await succeeded(removeSnapshots(snap.creates, ctx)));
    const full = /out of space/i.test(why) ? `pool ${d.pool} is full; ` : "";
    throw new SnapbackError(`cannot show the ZFS snapshot of ${d.datasets.join(", ")}: ${why}`, {
      cause: e,
      hint: `${full}${clean ? "nothing was left behind" : LEFTOVERS}`,
    });
  }
  const t3 = performance.now();

  return {
    plan,
    binds: d.binds,
    takenAtMs: performance.timeOrigin + t1,
    warnings: [],
    names: [...wanted],
    commands,
    timings: { snapshotMs: t1 - t0, exposeMs: t3 - t2 },
  };
}

async function refuseClashes(d: ZfsGroupDetail, creates: readonly string[]): Promise<void> {
  const datasets = creates.map((s) => s.slice(0, s.indexOf("@")));
  const clash = await existingSnapshots(datasets, d.snapName);
  if (clash.length > 0) {
    throw new SnapbackError(
      `cannot snapshot ZFS dataset ${clash.map((s) => s.slice(0, s.indexOf("@"))).join(", ")}: snapshot ${clash.join(", ")} already exists`,
      {
        hint: "snapback did not create it and left it untouched; rename or destroy it, then run again",
      },
    );
  }
  for (const v of d.views) {
    if (v.clone !== undefined && (await ownership(v.clone)).exists) {
      throw new SnapbackError(
        `cannot clone the snapshot of ${v.dataset}: dataset ${v.clone} already exists`,
        {
          hint: "run `snapback cleanup` to remove leftovers of interrupted runs",
        },
      );
    }
    if (await mountAt(v.dir))
      throw new SnapbackError(
        `cannot show the snapshot of ${v.dataset}: ${v.dir} is already a mount point`,
      );
  }
}

const LEFTOVERS =
  "some objects could not be removed; they are journaled and `snapback cleanup` removes them";

async function succeeded(p: Promise<unknown>): Promise<boolean> {
  return p.then(
    () => true,
    () => false,
  );
}

function snapshotError(d: ZfsGroupDetail, e: unknown, clean: boolean): SnapbackError {
  const why = tail(e);
  const what = `cannot snapshot ZFS dataset ${d.datasets.join(", ")}`;
  const after = clean ? "nothing was created" : LEFTOVERS;
  if (/out of space|no space/i.test(why)) {
    return new SnapbackError(`${what}: pool ${d.pool} is out of space`, {
      cause: e,
      hint: `free space in pool ${d.pool}; ${after}`,
    });
  }
  if (/already exists/i.test(why)) {
    return new SnapbackError(`${what}: a snapshot named ${d.snapName} already exists`, {
      cause: e,
      hint: `the existing snapshot was left untouched; ${after}`,
    });
  }
  return new SnapbackError(`${what}: ${why}`, { cause: e, hint: after });
}

async function snapshotsNamed(ancestor: string, snapName: string): Promise<string[]> {
  const r = await zfs(["list", "-H", "-o", "name", "-t", "snapshot", "-r", ancestor]);
  return rows(r.stdout)
    .map((f) => f[0] ?? "")
    .filter((n) => n.endsWith(`@${snapName}`));
}

/** Destroys the snapshots this run made; a same-named one of someone else stays. */
async function removeSnapshots(names: readonly string[], ctx: TakeContext): Promise<void> {
  const failures: string[] = [];
  for (const name of names) {
    try {
      const outcome = await destroyIfOurs(name, ctx.runId);
      if (outcome !== "foreign") await ctx.journal.gone(journalEntry("snapshot", name));
    } catch (e) {
      failures.push(errorMessage(e));
    }
  }
  if (failures.length > 0) throw new SnapbackError(failures.join("; "));
}

async function expose(
  d: ZfsGroupDetail,
  v: DatasetView,
  ctx: TakeContext,
  exec: (c: Command) => Promise<void>,
): Promise<void> {
  await ctx.journal.add(
    ...(v.clone === undefined ? [] : [journalEntry("clone", v.clone)]),
    journalEntry("mount", v.dir),
  );
  await mkdir(v.dir, { recursive: true, mode: 0o700 });
  const target = {
    snapshot: `${v.dataset}@${d.snapName}`,
    dir: v.dir,
    mountpoint: v.mountpoint,
    ...(v.clone ? { clone: v.clone } : {}),
  };
  for (const c of exposeCommands(d.expose, target, d.props)) {
    if (c.unlessMounted && (await mountAt(v.dir))) continue;
    await exec(c);
  }
}

/**
 * Unmounts and destroys everything of the group, children before parents, whatever state
 * take() reached. Only objects carrying this run's property are destroyed; idempotent.
 */
export async function releaseZfs(plan: SnapshotPlan, ctx: TakeContext): Promise<void> {
  const d = groupDetail(plan);
  const failures: string[] = [];
  for (const v of [...d.views].reverse()) {
    try {
      await unmountDir(v.dir);
      await removeDirAndEmptyParents(v.dir);
      await ctx.journal.gone(journalEntry("mount", v.dir));
      if (v.clone !== undefined) {
        const outcome = await destroyIfOurs(v.clone, d.runId);
        if (outcome !== "foreign") await ctx.journal.gone(journalEntry("clone", v.clone));
      }
    } catch (e) {
      failures.push(errorMessage(e));
    }
  }
  try {
    await removeSnapshots(
      d.datasets.map((ds) => `${ds}@${d.snapName}`),
      ctx,
    );
  } catch (e) {
    failures.push(errorMessage(e));
  }
  if (failures.length > 0) {
    throw new SnapbackError(
      `could not remove everything ZFS run ${d.runId} created: ${failures.join("; ")}`,
      {
        hint: "the leftovers are journaled; `snapback cleanup` retries",
      },
    );
  }
}
