import { errorMessage } from "../../errors.js";
import type { PipelineStage } from "../../exec/index.js";
import { newestCommon, type Candidate } from "./common-parent.js";
import {
  pruneSourceParents,
  sendReceive,
  type Replication,
  type TransferRecord,
} from "./engine-base.js";
import { writePin } from "./pins.js";
import { bothSettled } from "../../util/limit.js";

/** A snapshot of the source as the transfer sees it, whatever the filesystem. */
export interface SourceSnapshot extends Candidate {
  /** The run that made it ("" when the name is not snapback's). */
  runId: string;
}

/**
 * What btrfs and ZFS do differently when one source snapshot is sent (`btrfs-replicate.ts`,
 * `zfs-replicate.ts`): one object per transfer, so what a step learns (the target's listing)
 * is there for the next. `transfer` runs the steps in their order, a target step and a source
 * step side by side where the kind allows it (`sidesAtOnce`).
 */
export interface TransferKind<S extends SourceSnapshot> {
  /** The place on the target that receives this source, as messages name it. */
  readonly where: string;
  /**
   * Whether a step on the source and one on the target may run at the same time (btrfs: two
   * filesystems, or two subvolumes of one). ZFS: one step at a time, deliberately — zfs-fuse
   * serves every pool from one daemon that calls a dataset busy while another command works on
   * it, and on OpenZFS a local source and target are often one pool.
   */
  readonly sidesAtOnce: boolean;
  /** Removes (or resumes) what an interrupted transfer left there; the ids of what it holds. */
  prepareTarget(): Promise<ReadonlySet<string>>;
  /** The snapshot to send, ready to be sent, and the plan's other snapshots of the source. */
  sourceSnapshots(): Promise<{ sent: S; candidates: S[] }>;
  /**
   * Readies the target for a stream from `common`, the newest snapshot both sides hold
   * (undefined: none), and says which parent to send from (undefined: in full).
   */
  reconcile(common: S | undefined, sent: S): Promise<S | undefined>;
  /** `send [parent] sent | receive`. */
  stages(sent: S, parent: S | undefined): PipelineStage[];
  /** After a failed send or receive: what the receive left goes (or stays to be resumed). Never throws. */
  cleanup(): Promise<void>;
  /** The name of what was received, once it is verified to be `sent`. */
  verify(sent: S): Promise<string>;
  /** Right after the receive, before the pin is written (ZFS: the hold moves to it). */
  afterReceive?(received: string): Promise<void>;
  /** The target's keep rules, with `received` (the next parent) protected. */
  retain(received: string): Promise<void>;
  /** Deletes an older source snapshot if it is snapback's; false when gone or not ours. */
  removeSource(s: S): Promise<boolean>;
}

/**
 * One source snapshot sent to a target: partial receives dealt with, the parent found by
 * identity, send | receive process to process, the result verified, the new parent pinned,
 * the target's retention applied, the replaced parents removed from the source. The target
 * lock is held by the caller (`ReplicationEngine.backup`).
 *
 * Side by side, one side's failure does not stop the other: the source's placeholders are
 * removed (and the snapshot made read-only again) although the target could not be listed,
 * and the replaced source parent goes although the target's retention failed — safe, as the
 * new parent is pinned before either runs. The first error is the transfer's; a second one is
 * a warning.
 */
export async function transfer<S extends SourceSnapshot>(
  r: Replication,
  source: string,
  snapshot: string,
  kind: TransferKind<S>,
): Promise<TransferRecord> {
  const [onTarget, { sent, candidates }] = await sides(
    r,
    kind,
    () => kind.prepareTarget(),
    () => kind.sourceSnapshots(),
  );
  const parent = await kind.reconcile(newestCommon(candidates, onTarget), sent);
  const { command, durationS } = await sendReceive(r, kind.stages(sent, parent), {
    snapshot,
    where: kind.where,
    cleanup: () => kind.cleanup(),
  });
  const received = await kind.verify(sent);
  await kind.afterReceive?.(received);
  await writePin(r.stateDir, r.repoName, r.planName, source, { snapshot, sendId: sent.sendId });
  // The new parent is pinned: the target's retention and the source's old parents are
  // independent from here.
  await sides(
    r,
    kind,
    () => kind.retain(received),
    // Creation order is the generation or createtxg, not the birth time (a btrfs snapshot's
    // root inode keeps its source's) and not the run id alone (two runs can share a second).
    () =>
      pruneSourceParents(r, candidates, {
        name: (c) => c.name,
        runId: (c) => c.runId,
        order: (c) => c.order,
        remove: (c) => kind.removeSource(c),
      }),
  );
  return {
    source,
    snapshot,
    ...(parent ? { parent: parent.name } : {}),
    received,
    command,
    durationS,
  };
}

/** A target step and a source step: at once where the kind allows it, else target first. */
async function sides<A, B>(
  r: Replication,
  kind: { sidesAtOnce: boolean },
  target: () => Promise<A>,
  source: () => Promise<B>,
): Promise<[A, B]> {
  if (kind.sidesAtOnce)
    return bothSettled(target(), source(), (e) =>
      r.warn(`on the source as well: ${errorMessage(e)}`),
    );
  const a = await target();
  return [a, await source()];
}
