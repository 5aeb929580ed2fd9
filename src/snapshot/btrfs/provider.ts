import { lstat } from "node:fs/promises";
import { dirname } from "node:path";
import { performance } from "node:perf_hooks";
import { SnapbackError, errorMessage } from "../../errors.js";
import { ProcessError, run } from "../../exec/index.js";
import type {
  JournalEntry,
  SnapshotPlan,
  SnapshotProvider,
  TakeContext,
  TakenSnapshot,
} from "../../core/snapshot.js";
import { listKeptBtrfs, removeKeptBtrfs } from "./kept.js";
import { isSnapbackSnapshotPath } from "./naming.js";
import { isBtrfsPlanDetail, planBtrfs, type BtrfsPlanDetail } from "./plan.js";
import { createSnapshotDir, removeSnapshotDirIfEmpty, snapshotInto } from "./snapshot-dir.js";
import { deleteSubvolume, isSubvolume } from "./subvolume.js";

const entryFor = (snapshot: string): JournalEntry => ({
  provider: "btrfs",
  type: "subvolume",
  id: snapshot,
});

function detailOf(plan: SnapshotPlan): BtrfsPlanDetail {
  if (plan.kind !== "btrfs" || !isBtrfsPlanDetail(plan.detail)) {
    throw new SnapbackError(`internal: not a btrfs snapshot plan (${plan.kind})`);
  }
  return plan.detail;
}

/**
 * Deletes snapshots (given order) and marks each gone; collects failures so one does not
 * strand the rest. Then removes the default `.snapback` they were in if that is empty now.
 */
async function deleteAll(paths: readonly string[], ctx: TakeContext): Promise<string[]> {
  const failures: string[] = [];
  for (const path of paths) {
    try {
      if (!isSnapbackSnapshotPath(path))
        throw new SnapbackError(`refusing to delete ${path}: not a snapback snapshot`);
      await deleteSubvolume(path);
      await ctx.journal.gone(entryFor(path));
    } catch (e) {
      failures.push(errorMessage(e));
    }
  }
  for (const dir of new Set(paths.map((p) => dirname(p)))) await removeSnapshotDirIfEmpty(dir);
  return failures;
}

export const btrfsProvider: SnapshotProvider = {
  kind: "btrfs",

  plan(sources, ctx) {
    return planBtrfs(
      sources,
      ctx.snapshotDir === undefined ? ctx : { ...ctx, snapshotDir: ctx.snapshotDir },
    );
  },

  async take(plan, ctx): Promise<TakenSnapshot> {
    const detail = detailOf(plan);
    for (const dir of detail.snapshotDirs) await createSnapshotDir(dir);
    // The journal write (one fsync for all) happens before the first snapshot, so the
    // snapshots themselves follow each other with nothing slow in between.
    await ctx.journal.add(...detail.snapshots.map((s) => entryFor(s.snapshot)));
    const created: string[] = [];
    try {
      for (const s of detail.snapshots) {
        const snapshot = (): Promise<unknown> =>
          run("btrfs", ["subvolume", "snapshot", "-r", s.subvolume, s.snapshot]);
        // Once the first snapshot is in the directory, no other run can remove it.
        if (created.length === 0) await snapshotInto(dirname(s.snapshot), snapshot);
        else await snapshot();
        created.push(s.snapshot);
      }
    } catch (e) {
      const failures = await deleteAll([...created].reverse(), ctx);
      if (created.length === 0)
        for (const dir of detail.snapshotDirs) await removeSnapshotDirIfEmpty(dir);
      // Never created: gone as far as the journal is concerned.
      for (const s of detail.snapshots.slice(created.length))
        await ctx.journal.gone(entryFor(s.snapshot));
      const why = e instanceof ProcessError ? e.stderrTail(2) || e.message : errorMessage(e);
      const failed = detail.snapshots[created.length];
      throw new SnapbackError(`btrfs snapshot of ${failed?.subvolume ?? "?"} failed: ${why}`, {
        cause: e,
        ...(failures.length > 0 ? { hint: `also could not remove: ${failures.join("; ")}` } : {}),
      });
    }
    const takenAtMs = performance.timeOrigin + performance.now();
    return {
      plan,
      binds: detail.binds.map((b) => ({ ...b })),
      takenAtMs,
      warnings: [],
      names: created,
    };
  },

  async release(taken, ctx) {
    // Nested snapshots were created after their parents; remove them first.
    const failures = await deleteAll([...taken.names].reverse(), ctx);
    if (failures.length > 0) {
      throw new SnapbackError(
        failures.length === 1
          ? (failures[0] ?? "")
          : `${failures.length} snapshots were not removed:\n  ${failures.join("\n  ")}`,
        { hint: "`snapback cleanup` removes them later" },
      );
    }
  },

  async keep(taken, ctx) {
    // Marked done, the snapshots are no run's leftovers any more: they belong to local retention.
    for (const name of taken.names) await ctx.journal.done(entryFor(name));
  },

  listKept: (plan, planName) => listKeptBtrfs(plan, planName),
  removeKept: (kept) => removeKeptBtrfs(kept),

  async reclaim(entry) {
    if (entry.provider !== "btrfs" || entry.type !== "subvolume") {
      throw new SnapbackError(
        `btrfs cannot reclaim a ${entry.provider} ${entry.type} (${entry.id})`,
      );
    }
    if (!isSnapbackSnapshotPath(entry.id)) {
      throw new SnapbackError(`refusing to delete ${entry.id}: not a snapback snapshot`);
    }
    if (await isSubvolume(entry.id)) await deleteSubvolume(entry.id);
    // Gone already is success; something else at that path is not ours to remove.
    else if (await exists(entry.id))
      throw new SnapbackError(`refusing to delete ${entry.id}: not a btrfs subvolume`);
    await removeSnapshotDirIfEmpty(dirname(entry.id));
  },
};

function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}
