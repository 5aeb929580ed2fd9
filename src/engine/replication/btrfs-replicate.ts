import { basename, dirname, join } from "node:path";
import { errorMessage, SnapbackError } from "../../errors.js";
import { deleteSubvolume, parseSnapshotName } from "../../snapshot/btrfs/index.js";
import { isSnapbackSnapshotPath } from "../../snapshot/btrfs/naming.js";
import type { KeepRules } from "../types.js";
import { removeOwnSnapshotStubs } from "./btrfs-placeholders.js";
import { listSnapbackSubvolumes, showSubvolumes, type SubvolumeInfo } from "./btrfs-show.js";
import type { Replication, TransferRecord } from "./engine-base.js";
import { onHost } from "./engine-base.js";
import { escapeSourceName, runIdTime } from "./naming.js";
import { selectRetention, type RetentionChoice } from "./retention.js";
import { localHost, type Host } from "./ssh.js";
import { transfer, type SourceSnapshot, type TransferKind } from "./transfer.js";

/**
 * One btrfs source subvolume's snapshot sent to a target directory (the steps of
 * `Replication`): partial receives removed, the parent found by uuid, the result verified by
 * its received_uuid.
 */
export interface BtrfsReplication extends Replication {
  /** The repository's `path`. */
  targetRoot: string;
}

export function isComplete(s: SubvolumeInfo): boolean {
  return s.readonly && s.receivedUuid !== undefined;
}

/** The directory on the target that receives the snapshots of one source subvolume. */
export function targetDirFor(targetRoot: string, subvolume: string): string {
  return join(targetRoot, escapeSourceName(subvolume));
}

async function deleteOnHost(host: Host, path: string): Promise<void> {
  if (!isSnapbackSnapshotPath(path))
    throw new SnapbackError(`refusing to delete ${path}: not a snapback snapshot`);
  if (host.remote) await host.run(["btrfs", "subvolume", "delete", path]);
  else await deleteSubvolume(path);
}

/** Removes what an interrupted receive left (writable, or without received_uuid); returns the complete ones. */
export async function removePartials(
  host: Host,
  dir: string,
  warn: (m: string) => void,
  signal?: AbortSignal,
): Promise<SubvolumeInfo[]> {
  const all = await listSnapbackSubvolumes(host, dir, signal);
  for (const s of all.filter((x) => !isComplete(x))) {
    await deleteOnHost(host, s.path);
    warn(
      `removed ${s.path}${host.remote ? ` on ${host.label}` : ""}: an incomplete snapshot left by an interrupted transfer`,
    );
  }
  return all.filter(isComplete);
}

/** The `sendId` a target records for a source snapshot: its received_uuid if it has one, else its uuid. */
const sendIdOf = (s: SubvolumeInfo): string => s.receivedUuid ?? s.uuid;

type BtrfsSnapshot = SourceSnapshot & { info: SubvolumeInfo };

const asSource = (s: SubvolumeInfo): BtrfsSnapshot => ({
  name: s.path,
  sendId: sendIdOf(s),
  order: s.genAtCreation,
  runId: parseSnapshotName(s.name)?.runId ?? "",
  info: s,
});

export function replicateBtrfsSnapshot(
  r: BtrfsReplication,
  subvolume: string,
  snapshot: string,
): Promise<TransferRecord> {
  return transfer(r, subvolume, snapshot, btrfsTransfer(r, subvolume, snapshot));
}

/**
 * The btrfs steps of one transfer into `<targetRoot>/<escaped subvolume>`: partial receives
 * removed, the parent matched by received_uuid, the result checked by its received_uuid.
 */
function btrfsTransfer(
  r: BtrfsReplication,
  subvolume: string,
  snapshot: string,
): TransferKind<BtrfsSnapshot> {
  const dir = targetDirFor(r.targetRoot, subvolume);
  const received = join(dir, basename(snapshot));
  const where = onHost(r.host, dir);
  // The target's complete snapshots as prepareTarget found them: with the target locked,
  // that and what this transfer receives is what retention has to choose from.
  let onTarget: SubvolumeInfo[] = [];
  let gotten: SubvolumeInfo | undefined;
  return {
    where,
    sidesAtOnce: true,

    async prepareTarget() {
      await r.host.mkdir(dir, r.signal);
      onTarget = await removePartials(r.host, dir, r.warn, r.signal);
      return new Set(onTarget.map((t) => t.receivedUuid ?? ""));
    },

    async sourceSnapshots() {
      // The snapshot is in the directory listed for the candidates: one listing serves both.
      const [sub, listed] = await Promise.all([
        showOne(subvolume),
        listSnapbackSubvolumes(localHost, dirname(snapshot), r.signal),
      ]);
      if (!sub) throw new SnapbackError(`${subvolume} is not a btrfs subvolume any more`);
      const snap = listed.find((c) => c.path === snapshot) ?? (await showOne(snapshot));
      if (!snap?.readonly)
        throw new SnapbackError(`${snapshot} is not a read-only btrfs snapshot: it cannot be sent`);
      // What the target receives is the user's tree, not snapback's own snapshots inside it.
      await removeOwnSnapshotStubs(snapshot, subvolume);
      const candidates = listed.filter(
        (c) =>
          c.path !== snapshot &&
          c.readonly &&
          c.parentUuid === sub.uuid &&
          parseSnapshotName(c.name)?.plan === r.planName,
      );
      return { sent: asSource(snap), candidates: candidates.map(asSource) };
    },

    reconcile(common) {
      const ownOnTarget = onTarget.filter(
        (t) => parseSnapshotName(t.name)?.plan === r.planName,
      ).length;
      if (!common && ownOnTarget > 0) {
        r.warn(
          `no snapshot of ${subvolume} exists on both the source and ${where} any more: sending ${basename(snapshot)} in full ` +
            `(the ${ownOnTarget} older snapshot(s) there stay until retention removes them)`,
        );
      }
      return Promise.resolve(common);
    },

    stages(_sent, parent) {
      return [
        { file: "btrfs", args: ["send", ...(parent ? ["-p", parent.name] : []), snapshot] },
        r.host.command(["btrfs", "receive", dir]),
      ];
    },

    // Not under the run's signal: an interrupted receive is removed before we give up.
    cleanup: () =>
      removeIfIncomplete(r.host, received).catch((err: unknown) =>
        r.warn(
          `could not remove the incomplete ${received}: ${errorMessage(err)} (the next run removes it)`,
        ),
      ),

    async verify(sent) {
      const [got] = await showSubvolumes(r.host, [received]);
      if (!got || !isComplete(got) || got.receivedUuid !== sent.sendId) {
        await removeIfIncomplete(r.host, received).catch(() => undefined);
        throw new SnapbackError(
          `btrfs receive reported success, but ${received} on ${r.host.label} is not the complete snapshot of ${snapshot}`,
        );
      }
      gotten = got;
      return received;
    },

    async retain() {
      await applyTargetRetention(
        r.host,
        dir,
        r.planName,
        r.rules,
        new Set([basename(snapshot)]),
        false,
        r.warn,
        [...onTarget.filter((t) => t.path !== received), ...(gotten ? [gotten] : [])],
      );
    },

    removeSource: (c) => deleteSubvolume(c.name),
  };
}

async function showOne(path: string): Promise<SubvolumeInfo | undefined> {
  return (await showSubvolumes(localHost, [path]))[0];
}

async function removeIfIncomplete(host: Host, path: string): Promise<void> {
  const [s] = await showSubvolumes(host, [path]);
  if (s && !isComplete(s)) await deleteOnHost(host, s.path);
}

export interface TargetItem {
  id: string;
  time: Date;
  order: number;
  runId: string;
  info: SubvolumeInfo;
}

/** The plan's complete snapshots in one target directory, dated by their run. */
export function targetItems(snaps: readonly SubvolumeInfo[], planName: string): TargetItem[] {
  const items: TargetItem[] = [];
  for (const s of snaps) {
    const parsed = parseSnapshotName(s.name);
    if (!parsed || parsed.plan !== planName || !isComplete(s)) continue;
    items.push({
      id: s.name,
      runId: parsed.runId,
      time: runIdTime(parsed.runId) ?? new Date(0),
      order: s.genAtCreation,
      info: s,
    });
  }
  return items;
}

/**
 * Keep rules on one target directory. `protect` (snapshot names) are the parents of the next
 * incremental sends: they stay whatever the rules say.
 */
export async function applyTargetRetention(
  host: Host,
  dir: string,
  planName: string,
  rules: KeepRules,
  protect: ReadonlySet<string>,
  dryRun: boolean,
  warn: (m: string) => void,
  listed?: readonly SubvolumeInfo[],
): Promise<RetentionChoice<TargetItem>> {
  const items = targetItems(listed ?? (await listSnapbackSubvolumes(host, dir)), planName);
  const choice = selectRetention(items, rules, protect);
  if (!dryRun) {
    for (const item of choice.remove) {
      try {
        await deleteOnHost(host, item.info.path);
      } catch (e) {
        warn(`retention: could not delete ${item.info.path}: ${errorMessage(e)}`);
      }
    }
  }
  return choice;
}
