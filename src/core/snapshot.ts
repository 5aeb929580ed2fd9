import type { Journal } from "./journal.js";

/**
 * How a snapshot provider plugs into a run. A run detects each source's filesystem, asks the
 * provider for a read-only plan (used verbatim by --dry-run), then takes the snapshots back
 * to back, shows them to the engine through bind mounts, and releases them in reverse.
 */
export type SnapshotKind = "btrfs" | "zfs" | "none";

/** What `findmnt -T <source>` says about the filesystem holding a source. */
export interface MountInfo {
  /** Mount point that holds the source (findmnt TARGET). */
  target: string;
  /** Mount source (device, or dataset for ZFS). */
  source: string;
  fstype: string;
  options: string;
  /** The part of the mount's filesystem that is mounted at `target` (btrfs: subvol path). */
  fsroot: string;
}

export interface DetectedSource {
  /** The original absolute path from the plan, normalised (no trailing slash). */
  path: string;
  kind: SnapshotKind;
  mount: MountInfo;
}

/** One bind mount the view makes: `from` (inside a snapshot) shown read-only at `to`. */
export interface ViewBind {
  from: string;
  to: string;
}

/** The provider's read-only description of what it will create for a group of sources. */
export interface SnapshotPlan {
  kind: SnapshotKind;
  /** Sources captured together in this plan item (one atomic operation where possible). */
  sources: string[];
  /** Whether all `sources` are captured in one atomic operation. */
  atomic: boolean;
  /** Human-readable steps for --dry-run ("btrfs subvolume snapshot -r /home /home/.snapback/..."). */
  steps: string[];
  /** Nested subvolumes / child datasets that will be captured too (original paths). */
  nested: string[];
  /** Provider-specific data carried from plan() to take(). */
  detail: unknown;
}

export interface TakenSnapshot {
  plan: SnapshotPlan;
  /** Bind mounts the view needs, parents before children. Empty for `none` sources. */
  binds: ViewBind[];
  /** Wall-clock instant the snapshot operation completed (ms, high resolution). */
  takenAtMs: number;
  warnings: string[];
  /** Local names of the created snapshots (for `local_snapshots` retention and reports). */
  names: string[];
}

export interface TakeContext {
  plan: string;
  runId: string;
  journal: Journal;
}

export interface JournalEntry {
  /** Which provider reclaims it ("btrfs", "zfs", ...). */
  provider: string;
  /** Provider-specific object kind ("subvolume", "snapshot", "clone", "mount"). */
  type: string;
  /** Path, dataset name or mount target. */
  id: string;
}

export interface SnapshotProvider {
  readonly kind: SnapshotKind;
  /** Read-only. Groups the sources and says exactly what take() will create. */
  plan(
    sources: DetectedSource[],
    ctx: { plan: string; runId: string; snapshotDir?: string; recursive: boolean },
  ): Promise<SnapshotPlan[]>;
  /** Creates the snapshots; every object is journaled before it is created. */
  take(plan: SnapshotPlan, ctx: TakeContext): Promise<TakenSnapshot>;
  /** Deletes what take() created, unless `keep` (local retention) says otherwise. Idempotent. */
  release(taken: TakenSnapshot, ctx: TakeContext): Promise<void>;
  /** Removes one object a dead run journaled. Must treat "already gone" as success. */
  reclaim(entry: JournalEntry): Promise<void>;
  /**
   * Instead of release(): leaves what take() created in place as a restore point
   * (`local_snapshots`) and marks it done in the journal, so no later run reclaims it.
   * Providers without it cannot keep snapshots (the run releases them).
   */
  keep?: (taken: TakenSnapshot, ctx: TakeContext) => Promise<void>;
  /** The restore points kept for `planName` where this plan item puts its snapshots, oldest first. */
  listKept?: (plan: SnapshotPlan, planName: string) => Promise<KeptSnapshot[]>;
  /** Deletes one kept restore point (nested objects first). Missing is success. */
  removeKept?: (kept: KeptSnapshot) => Promise<void>;
}

/** One run's snapshot of one plan item, kept on the source as a restore point. */
export interface KeptSnapshot {
  kind: SnapshotKind;
  plan: string;
  runId: string;
  /** Where the provider keeps it (btrfs: the snapshot directory); retention counts runs per location. */
  location: string;
  /** The snapshot objects of this run in `location`, the item's own first. */
  objects: string[];
  /** Creation time, ms since the epoch. */
  createdMs: number;
  /** Grows with every snapshot created in `location` (btrfs: the subvolume id): orders runs of the same second. */
  sequence: number;
  /** Where each source's files appear inside the restore point (empty when the plan changed since). */
  sources: { source: string; path: string }[];
  /**
   * The nested snapshots of the restore point (btrfs: `…@1.1`) and the original path each
   * holds: inside the item's own snapshot that path is an empty directory.
   */
  nested?: { source: string; path: string }[];
}
