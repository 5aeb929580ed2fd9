import { existsSync } from "node:fs";
import { lstat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { SnapbackError } from "../../errors.js";
import { run } from "../../exec/index.js";
import type { KeptSnapshot, SnapshotPlan } from "../../core/snapshot.js";
import { listSnapbackSnapshots, type LocalSnapshot } from "./list.js";
import { formatSnapshotName, isSnapbackSnapshotPath, parseSnapshotName } from "./naming.js";
import { isBtrfsPlanDetail } from "./plan.js";
import { removeSnapshotDirIfEmpty } from "./snapshot-dir.js";
import { deleteSubvolume } from "./subvolume.js";

/**
 * The restore points of `planName` in the directory where this plan item puts its snapshots:
 * one per run and item (the item's own snapshot plus its nested ones), oldest first. Other
 * plans' snapshots in the same directory are not looked at.
 */
export async function listKeptBtrfs(plan: SnapshotPlan, planName: string): Promise<KeptSnapshot[]> {
  if (plan.kind !== "btrfs" || !isBtrfsPlanDetail(plan.detail)) return [];
  const detail = plan.detail;
  const own = detail.snapshots[0];
  if (!own) return [];
  const dir = dirname(own.snapshot);
  const current = parseSnapshotName(basename(own.snapshot));

  const byRun = new Map<string, Created[]>();
  for (const s of await listSnapbackSnapshots(dir)) {
    if (s.plan !== planName) continue;
    // A run releases its own snapshot while its retention lists these: gone is no restore point.
    const created = await creation(s.path).catch((e: unknown) => {
      if (existsSync(s.path)) throw e;
      return undefined;
    });
    if (!created) continue;
    const key = `${s.runId}@${s.item}`;
    byRun.set(key, [...(byRun.get(key) ?? []), { ...s, ...created }]);
  }

  const kept: KeptSnapshot[] = [];
  for (const snaps of byRun.values()) {
    snaps.sort((a, b) => (a.nested ?? 0) - (b.nested ?? 0));
    const first = snaps[0];
    if (!first) continue;
    const sources: KeptSnapshot["sources"] = [];
    const nested: NonNullable<KeptSnapshot["nested"]> = [];
    if (current && first.item === current.item) {
      // A nested snapshot of an earlier run holds what this plan's nested step of the same
      // index holds now; its original path is where the view binds that step.
      for (const s of snaps) {
        if (s.nested === undefined) continue;
        const step = detail.snapshots[s.nested];
        if (!step || parseSnapshotName(basename(step.snapshot))?.nested !== s.nested) continue;
        const bind = detail.binds.find((b) => b.from === step.snapshot);
        if (bind) nested.push({ source: bind.to, path: s.path });
      }
      for (const b of detail.binds) {
        if (!plan.sources.includes(b.to)) continue;
        const step = detail.snapshots.find(
          (s) => b.from === s.snapshot || b.from.startsWith(`${s.snapshot}/`),
        );
        const parsed = step && parseSnapshotName(basename(step.snapshot));
        if (!step || !parsed) continue;
        const path = join(
          dir,
          formatSnapshotName({ ...parsed, runId: first.runId }),
          b.from.slice(step.snapshot.length),
        );
        if (await exists(path)) sources.push({ source: b.to, path });
      }
    }
    kept.push({
      kind: "btrfs",
      plan: planName,
      runId: first.runId,
      location: dir,
      objects: snaps.map((s) => s.path),
      createdMs: Math.max(...snaps.map((s) => s.createdMs)),
      sequence: Math.max(...snaps.map((s) => s.sequence)),
      sources,
      ...(nested.length > 0 ? { nested } : {}),
    });
  }
  return kept.sort((a, b) => a.sequence - b.sequence);
}

type Created = LocalSnapshot & { sequence: number };

/**
 * When a snapshot was made. Its root directory's times are those of the subvolume it was
 * taken of, so they say nothing; btrfs records the creation time (to the second) and gives
 * every new subvolume a higher id, which orders snapshots taken within the same second.
 */
async function creation(path: string): Promise<{ createdMs: number; sequence: number }> {
  const r = await run("btrfs", ["subvolume", "show", path]);
  const id = /^\s*Subvolume ID:\s*(\d+)/m.exec(r.stdout)?.[1];
  const time = /^\s*Creation time:\s*(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) ([+-]\d\d)(\d\d)/m.exec(
    r.stdout,
  );
  if (id === undefined)
    throw new SnapbackError(`btrfs subvolume show ${path}: no subvolume id in its output`);
  const ms = time ? Date.parse(`${time[1]}T${time[2]}${time[3]}:${time[4]}`) : Number.NaN;
  return { sequence: Number(id), createdMs: Number.isNaN(ms) ? 0 : ms };
}

/** Deletes a kept restore point, nested snapshots before the item's own. */
export async function removeKeptBtrfs(kept: KeptSnapshot): Promise<void> {
  const failures: string[] = [];
  for (const path of [...kept.objects].reverse()) {
    try {
      if (!isSnapbackSnapshotPath(path))
        throw new SnapbackError(`refusing to delete ${path}: not a snapback snapshot`);
      await deleteSubvolume(path);
    } catch (e) {
      failures.push(e instanceof Error ? e.message : String(e));
    }
  }
  for (const dir of new Set(kept.objects.map((o) => dirname(o))))
    await removeSnapshotDirIfEmpty(dir);
  if (failures.length > 0) throw new SnapbackError(failures.join("; "));
}

function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}
