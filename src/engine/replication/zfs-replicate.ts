import { setTimeout as sleep } from "node:timers/promises";
import { errorMessage, SnapbackError } from "../../errors.js";
import { pipeline, ProcessError } from "../../exec/index.js";
import { log } from "../../log.js";
import { destroyIfOurs } from "../../snapshot/zfs/zfs.js";
import type { KeepRules } from "../types.js";
import type { Replication, TransferRecord } from "./engine-base.js";
import { onHost } from "./engine-base.js";
import { escapeSourceName, parseZfsSnapshotName, runIdTime, unescapeSourceName } from "./naming.js";
import { selectRetention, type RetentionChoice } from "./retention.js";
import { localHost, type Host } from "./ssh.js";
import { transfer, type SourceSnapshot, type TransferKind } from "./transfer.js";
import type { ZfsReplicationCapabilities } from "./zfs-capabilities.js";

/** The tag of the hold that protects the snapshot both sides share (where holds exist). */
export const HOLD_TAG = "snapback";
/** `<escaped>:old-<run>`: a chain kept aside when a full send had to start a new one. */
export const ARCHIVE_SEP = ":old-";

export interface ZfsSnap {
  /** `dataset@snap` */
  name: string;
  dataset: string;
  snap: string;
  guid: string;
  createtxg: number;
}

/**
 * One source dataset's snapshot sent to the target (the steps of `Replication`): an
 * interrupted receive resumed or cleaned, the parent found by guid, the shared snapshot held.
 */
export interface ZfsReplication extends Replication {
  /** The repository's `dataset`: receives one child per source dataset. */
  container: string;
  sourceCaps: ZfsReplicationCapabilities;
  targetCaps: ZfsReplicationCapabilities;
}

export function targetDatasetFor(container: string, source: string): string {
  return `${container}/${escapeSourceName(source)}`;
}

/** The source dataset a child of the container stands for (archived chains included). */
export function sourceOfTargetDataset(container: string, dataset: string): string | undefined {
  if (!dataset.startsWith(`${container}/`)) return undefined;
  const child = dataset.slice(container.length + 1);
  if (child.includes("/")) return undefined;
  const base = child.split(ARCHIVE_SEP)[0] ?? child;
  return unescapeSourceName(base, false);
}

/**
 * Snapshots (exact guid and createtxg: `get -p` works where `list -p` does not, as on zfs-fuse)
 * of `dataset` — or with `recursive`, of everything below it.
 */
export async function listZfsSnapshots(
  host: Host,
  dataset: string,
  opts: { recursive?: boolean; signal?: AbortSignal } = {},
): Promise<{ exists: boolean; datasets: string[]; snaps: ZfsSnap[] }> {
  const depth = opts.recursive ? [] : ["-d", "1"];
  const r = await host.run(
    [
      "zfs",
      "get",
      "-H",
      "-p",
      "-r",
      ...depth,
      "-o",
      "name,property,value",
      "guid,createtxg",
      dataset,
    ],
    {
      reject: false,
      ...(opts.signal ? { signal: opts.signal } : {}),
    },
  );
  if (r.exitCode !== 0) {
    if (/does not exist/i.test(r.stderr)) return { exists: false, datasets: [], snaps: [] };
    throw new ProcessError(r);
  }
  const props = new Map<string, { guid?: string; createtxg?: number }>();
  for (const line of r.stdout.split("\n")) {
    const [name, prop, value] = line.split("\t");
    if (!name || !prop || value === undefined) continue;
    const p = props.get(name) ?? {};
    if (prop === "guid") p.guid = value;
    if (prop === "createtxg") p.createtxg = Number(value);
    props.set(name, p);
  }
  const datasets: string[] = [];
  const snaps: ZfsSnap[] = [];
  for (const [name, p] of props) {
    const at = name.indexOf("@");
    if (at < 0) {
      datasets.push(name);
      continue;
    }
    const ds = name.slice(0, at);
    if (!opts.recursive && ds !== dataset) continue;
    snaps.push({
      name,
      dataset: ds,
      snap: name.slice(at + 1),
      guid: p.guid ?? "",
      createtxg: p.createtxg ?? 0,
    });
  }
  snaps.sort((a, b) => a.createtxg - b.createtxg);
  return { exists: datasets.includes(dataset), datasets, snaps };
}

async function zfsOn(host: Host, args: string[], signal?: AbortSignal): Promise<void> {
  await host.run(["zfs", ...args], signal ? { signal } : {});
}

async function tryZfs(host: Host, args: string[]): Promise<boolean> {
  const r = await host.run(["zfs", ...args], { reject: false });
  return r.exitCode === 0;
}

/**
 * What an interrupted receive left: resumed where ZFS can (receive_resume_token), else the
 * partial state aborted; a hidden `%recv` clone, or a dataset a first transfer created but
 * never gave a snapshot, destroyed.
 */
async function cleanInterrupted(r: ZfsReplication, td: string): Promise<void> {
  if (r.targetCaps.resumable && r.sourceCaps.resumable) {
    const tok = await r.host.run(["zfs", "get", "-H", "-o", "value", "receive_resume_token", td], {
      reject: false,
    });
    const token = tok.exitCode === 0 ? tok.stdout.trim() : "-";
    if (token && token !== "-") {
      try {
        await pipeline(
          [
            { file: "zfs", args: ["send", "-t", token] },
            r.host.command(["zfs", "receive", "-s", "-u", td]),
          ],
          {
            signal: r.signal,
            killGraceMs: 5_000,
          },
        );
        log.verbose(`${r.repoName}: resumed the interrupted transfer into ${td}`);
      } catch (e) {
        if (r.signal.aborted) throw e;
        await zfsOn(r.host, ["receive", "-A", td]);
        r.warn(
          `could not resume the interrupted transfer into ${td} (${errorMessage(e)}): discarded it`,
        );
      }
    }
  }
  if (await tryZfs(r.host, ["list", "-H", "-o", "name", `${td}/%recv`])) {
    await destroyDataset(r.host, `${td}/%recv`);
    r.warn(`removed ${td}/%recv on ${r.host.label}: left by an interrupted transfer`);
  }
  const state = await listZfsSnapshots(r.host, td, { recursive: true });
  if (state.exists && state.snaps.length === 0 && state.datasets.length === 1) {
    await destroyDataset(r.host, td);
    r.warn(
      `removed ${td} on ${r.host.label}: an interrupted first transfer left it without a snapshot`,
    );
  }
}

type ZfsSourceSnapshot = SourceSnapshot & { snap: ZfsSnap };

const asSource = (s: ZfsSnap): ZfsSourceSnapshot => ({
  name: s.name,
  sendId: s.guid,
  order: s.createtxg,
  runId: parseZfsSnapshotName(s.snap)?.runId ?? "",
  snap: s,
});

export function replicateZfsSnapshot(
  r: ZfsReplication,
  dataset: string,
  snapshot: string,
): Promise<TransferRecord> {
  return transfer(r, dataset, snapshot, zfsTransfer(r, dataset, snapshot));
}

/**
 * The ZFS steps of one transfer into `<container>/<escaped dataset>`: an interrupted receive
 * resumed or cleaned, the parent matched by guid, a target that moved on rolled back (or, with
 * nothing shared, its chain renamed aside), the shared snapshot held.
 */
function zfsTransfer(
  r: ZfsReplication,
  dataset: string,
  snapshot: string,
): TransferKind<ZfsSourceSnapshot> {
  const td = targetDatasetFor(r.container, dataset);
  const where = onHost(r.host, td);
  const resumable = r.targetCaps.resumable && r.sourceCaps.resumable;
  let target: Awaited<ReturnType<typeof listZfsSnapshots>> = {
    exists: false,
    datasets: [],
    snaps: [],
  };
  /** The target's copy of the parent: its hold moves to the new snapshot. */
  let counterpart: ZfsSnap | undefined;
  return {
    where,
    sidesAtOnce: false,

    async prepareTarget() {
      await cleanInterrupted(r, td);
      target = await listZfsSnapshots(r.host, td, { signal: r.signal });
      return new Set(target.snaps.map((s) => s.guid));
    },

    async sourceSnapshots() {
      const source = await listZfsSnapshots(localHost, dataset, { signal: r.signal });
      const sent = source.snaps.find((s) => s.name === snapshot);
      if (!sent) throw new SnapbackError(`ZFS snapshot ${snapshot} does not exist any more`);
      const candidates = source.snaps.filter(
        (s) => s.name !== snapshot && parseZfsSnapshotName(s.snap)?.plan === r.planName,
      );
      return { sent: asSource(sent), candidates: candidates.map(asSource) };
    },

    async reconcile(common, sent) {
      counterpart = common && target.snaps.find((s) => s.guid === common.sendId);
      if (common && counterpart) {
        const base = counterpart;
        // An incremental stream only applies on top of its parent: what came later goes.
        const newer = target.snaps.filter((s) => s.createtxg > base.createtxg);
        const foreign = newer.filter((s) => parseZfsSnapshotName(s.snap)?.plan !== r.planName);
        if (foreign.length > 0) {
          throw new SnapbackError(
            `${where} holds ${foreign.map((s) => s.snap).join(", ")}, newer than ${base.snap} and not of plan ` +
              `${r.planName}: receiving would roll them back`,
            { hint: "replicate a dataset into one ZFS target from one plan only" },
          );
        }
        if (newer.length > 0) {
          for (const s of newer) await releaseHold(r.host, r.targetCaps.holds, s.name);
          await zfsOn(r.host, ["rollback", "-r", base.name], r.signal);
          r.warn(
            `rolled ${where} back to ${base.snap}, the newest snapshot the source still has: ` +
              `removed ${newer.map((s) => s.snap).join(", ")} there`,
          );
        }
        return common;
      }
      if (target.exists) {
        const aside = `${td}${ARCHIVE_SEP}${archiveStamp(target.snaps)}`;
        // No snapshot there is anyone's parent any more: nothing to hold.
        for (const snap of target.snaps) await releaseHold(r.host, r.targetCaps.holds, snap.name);
        await renameAside(r.host, td, aside);
        r.warn(
          `no snapshot of ${dataset} exists on both the source and ${where} any more: sending ${sent.snap.snap} in full; ` +
            `the previous chain was renamed to ${aside} and stays until retention removes its snapshots`,
        );
      }
      return undefined;
    },

    stages(_sent, parent) {
      const receive = [
        "receive",
        ...(parent && r.targetCaps.receiveForce ? ["-F"] : []),
        ...(r.targetCaps.receiveNoMount ? ["-u"] : []),
        ...(resumable ? ["-s"] : []),
        td,
      ];
      return [
        { file: "zfs", args: ["send", ...(parent ? ["-i", parent.name] : []), snapshot] },
        r.host.command(["zfs", ...receive]),
      ];
    },

    // A resumable receive keeps its state for the next run to resume.
    async cleanup() {
      if (resumable) return;
      await cleanInterrupted({ ...r, signal: new AbortController().signal }, td).catch(
        (err: unknown) =>
          r.warn(
            `could not clean up after the failed transfer into ${td}: ${errorMessage(err)} (the next run retries)`,
          ),
      );
    },

    async verify(sent) {
      const received = `${td}@${sent.snap.snap}`;
      const after = await listZfsSnapshots(r.host, td);
      if (after.snaps.find((s) => s.name === received)?.guid !== sent.sendId) {
        throw new SnapbackError(
          `zfs receive reported success, but ${received} on ${r.host.label} is not the snapshot ${snapshot}`,
        );
      }
      return received;
    },

    async afterReceive(received) {
      if (!r.targetCaps.holds) return;
      await zfsOn(r.host, ["hold", HOLD_TAG, received]).catch((e: unknown) => {
        if (!/tag already exists/i.test(errorMessage(e))) throw e;
      });
      if (counterpart && counterpart.name !== received)
        await releaseHold(r.host, true, counterpart.name);
    },

    async retain(received) {
      await applyZfsTargetRetention(
        r.host,
        r.container,
        dataset,
        r.planName,
        r.rules,
        new Set([received]),
        false,
        r.warn,
        r.targetCaps,
      );
    },

    // Only a snapshot carrying snapback's own property is ever destroyed.
    removeSource: async (c) => (await destroyIfOurs(c.name)) === "destroyed",
  };
}

/** A dataset (never a snapshot) destroyed; zfs-fuse calls a mounted one busy: unmounted, it goes. */
async function destroyDataset(host: Host, name: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const r = await host.run(["zfs", "destroy", name], { reject: false });
    if (r.exitCode === 0) return;
    if (!/busy/i.test(r.stderr) || attempt >= 5) throw new ProcessError(r);
    await host.run(["zfs", "unmount", name], { reject: false });
    await sleep(200);
  }
}

/** zfs-fuse calls a mounted dataset busy and will not rename it: unmounted, it will. */
async function renameAside(host: Host, from: string, to: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const r = await host.run(["zfs", "rename", from, to], { reject: false });
    if (r.exitCode === 0) return;
    if (!/busy/i.test(r.stderr) || attempt >= 5) throw new ProcessError(r);
    await host.run(["zfs", "unmount", from], { reject: false });
    await sleep(200);
  }
}

function archiveStamp(snaps: readonly ZfsSnap[]): string {
  const newest = snaps.at(-1);
  const run = newest ? parseZfsSnapshotName(newest.snap)?.runId : undefined;
  return run ?? String(Date.now());
}

async function releaseHold(host: Host, holds: boolean, name: string): Promise<void> {
  // "no such tag" when it was never held (zfs-fuse cannot list holds: `zfs holds` is broken there).
  if (holds) await host.run(["zfs", "release", HOLD_TAG, name], { reject: false });
}

export interface ZfsTargetItem {
  id: string;
  time: Date;
  order: number;
  runId: string;
  snap: ZfsSnap;
}

/**
 * Keep rules over every chain of one source on the target (its dataset and chains renamed
 * aside); `protect` (full names) stays whatever the rules say. A chain renamed aside that has
 * no snapshot left is destroyed.
 */
export async function applyZfsTargetRetention(
  host: Host,
  container: string,
  source: string,
  planName: string,
  rules: KeepRules,
  protect: ReadonlySet<string>,
  dryRun: boolean,
  warn: (m: string) => void,
  caps: Pick<ZfsReplicationCapabilities, "holds">,
): Promise<RetentionChoice<ZfsTargetItem>> {
  const all = await listZfsSnapshots(host, container, { recursive: true });
  const chains = all.datasets.filter((d) => sourceOfTargetDataset(container, d) === source);
  const items: ZfsTargetItem[] = [];
  for (const s of all.snaps) {
    if (!chains.includes(s.dataset)) continue;
    const parsed = parseZfsSnapshotName(s.snap);
    if (!parsed || parsed.plan !== planName) continue;
    items.push({
      id: s.name,
      runId: parsed.runId,
      time: runIdTime(parsed.runId) ?? new Date(0),
      order: s.createtxg,
      snap: s,
    });
  }
  const choice = selectRetention(items, rules, protect);
  if (dryRun) return choice;
  for (const item of choice.remove) {
    try {
      await releaseHold(host, caps.holds, item.id);
      await zfsOn(host, ["destroy", item.id]);
    } catch (e) {
      warn(`retention: could not destroy ${item.id}: ${errorMessage(e)}`);
    }
  }
  const removed = new Set(choice.remove.map((i) => i.id));
  for (const chain of chains.filter((c) => c.includes(ARCHIVE_SEP))) {
    const left = all.snaps.filter((s) => s.dataset === chain && !removed.has(s.name));
    if (left.length === 0)
      await destroyDataset(host, chain).catch((e: unknown) =>
        warn(`could not destroy the empty ${chain}: ${errorMessage(e)}`),
      );
  }
  return choice;
}
