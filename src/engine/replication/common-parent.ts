/**
 * The parent of an incremental send: the newest snapshot that exists on both sides. Matching is
 * by identity, never by name: btrfs identifies a received snapshot by `received_uuid`, which is
 * the sent snapshot's uuid (or its own received_uuid if it was itself received); ZFS keeps a
 * snapshot's `guid` through send and receive. A same-named snapshot with other content (a
 * target restored from elsewhere, a source recreated) is never taken for a parent.
 */
export interface Candidate {
  /** btrfs: path of the source snapshot; ZFS: `dataset@snap`. */
  name: string;
  /** What the target records for it: btrfs received_uuid, ZFS guid. */
  sendId: string;
  /** Creation order on the source (btrfs generation at creation, ZFS createtxg). */
  order: number;
}

export function newestCommon<C extends Candidate>(
  source: readonly C[],
  onTarget: ReadonlySet<string>,
): C | undefined {
  return [...source]
    .filter((c) => onTarget.has(c.sendId))
    .sort((a, b) => b.order - a.order || b.name.localeCompare(a.name))[0];
}
