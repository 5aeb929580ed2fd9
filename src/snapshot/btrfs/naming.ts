import { basename } from "node:path";
import { SnapbackError } from "../../errors.js";

/** Directory created in a subvolume root to hold its snapshots unless `snapshot_dir` says otherwise. */
export const SNAPSHOT_DIR_NAME = ".snapback";

/**
 * `snapback@<plan>@<runId>@<item>[.<nested>]`: plan names cannot hold '@' (config schema) and
 * run ids are refused if they do, so the name splits back unambiguously.
 */
export interface SnapshotName {
  plan: string;
  runId: string;
  /** Plan item (a group of sources sharing a subvolume), from 1. */
  item: number;
  /** Nested subvolume below the item's sources, from 1; absent for the item's own subvolume. */
  nested?: number;
}

const PLAN_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const RUN_ID_RE = /^[^@/\s]+$/;
const NAME_RE =
  /^snapback@([A-Za-z0-9][A-Za-z0-9_.-]*)@([^@/\s]+)@([1-9][0-9]*)(?:\.([1-9][0-9]*))?$/;

export function formatSnapshotName(name: SnapshotName): string {
  if (!PLAN_RE.test(name.plan))
    throw new SnapbackError(`invalid plan name for a snapshot: ${JSON.stringify(name.plan)}`);
  if (!RUN_ID_RE.test(name.runId))
    throw new SnapbackError(`invalid run id for a snapshot: ${JSON.stringify(name.runId)}`);
  if (!Number.isInteger(name.item) || name.item < 1)
    throw new SnapbackError(`invalid snapshot item ${name.item}`);
  if (name.nested !== undefined && (!Number.isInteger(name.nested) || name.nested < 1)) {
    throw new SnapbackError(`invalid nested snapshot index ${name.nested}`);
  }
  const index = name.nested === undefined ? `${name.item}` : `${name.item}.${name.nested}`;
  return `snapback@${name.plan}@${name.runId}@${index}`;
}

/** The parts of a snapshot name (a base name, not a path), or undefined if snapback did not make it. */
export function parseSnapshotName(name: string): SnapshotName | undefined {
  const m = NAME_RE.exec(name);
  if (!m) return undefined;
  const [, plan, runId, item, nested] = m;
  if (plan === undefined || runId === undefined || item === undefined) return undefined;
  return nested === undefined
    ? { plan, runId, item: Number(item) }
    : { plan, runId, item: Number(item), nested: Number(nested) };
}

/** Safety net before deleting anything: only absolute paths whose last component is ours. */
export function isSnapbackSnapshotPath(path: string): boolean {
  return (
    path.startsWith("/") &&
    !path.split("/").includes("..") &&
    parseSnapshotName(basename(path)) !== undefined
  );
}
