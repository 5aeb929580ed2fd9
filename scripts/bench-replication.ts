import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, open, readdir, rm, rmdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../src/exec/index.js";
import { newRunId } from "../src/core/runid.js";
import {
  deleteSubvolume,
  formatSnapshotName,
  SNAPSHOT_DIR_NAME,
} from "../src/snapshot/btrfs/index.js";
import {
  localHost,
  replicateBtrfsSnapshot,
  targetDirFor,
  type BtrfsReplication,
} from "../src/engine/replication/index.js";

/**
 * For `make bench` and the end-to-end test: snapback's btrfs replication against the bare
 * `btrfs send -p A B | btrfs receive DIR` on the same snapshots, and the time to replicate a
 * small change to a large subvolume. Creates its snapshots in `<subvolume>/.snapback` and
 * removes everything it made (snapshots on both sides, its state dir), even when it fails.
 */
export interface ReplicationBenchOptions {
  /** A btrfs subvolume; the bench adds data to it. */
  subvolume: string;
  /** A directory on another btrfs filesystem for snapback's target ... */
  targetRoot: string;
  /** ... and one beside it for the bare pipeline. */
  bareTargetRoot: string;
  /** New bytes per measured incremental (random: nothing compresses or dedups). */
  changeBytes: number;
  /** Measured incrementals; the result gives medians. */
  repeat: number;
  /** Small files written first so the subvolume is "large" for the small-change figure. */
  manyFiles: number;
  /** Drop the page cache before every measured transfer (root; default true). */
  dropCaches?: boolean;
}

export interface ReplicationBenchResult {
  changeBytes: number;
  /** Median seconds of the bare incremental pipeline. */
  bareSeconds: number;
  /** Median seconds of snapback's whole incremental replication of the same change. */
  snapbackSeconds: number;
  /** The transfer alone (snapback's pipeline, without lookups, checks and retention). */
  snapbackTransferSeconds: number;
  /** Throughput of snapback relative to the bare pipeline (1 = as fast). */
  throughputRatio: number;
  bareMiBps: number;
  snapbackMiBps: number;
  /** Whole replication of a 4 KiB change to the subvolume of `manyFiles` files plus all the data. */
  smallChangeMs: number;
  smallChangeTransferMs: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};

async function writeRandom(path: string, bytes: number): Promise<void> {
  const fh = await open(path, "w");
  try {
    for (let done = 0; done < bytes;) {
      const n = Math.min(8 * 1024 * 1024, bytes - done);
      await fh.write(randomBytes(n));
      done += n;
    }
  } finally {
    await fh.close();
  }
}

async function dropCaches(enabled: boolean): Promise<void> {
  await run("sync", []);
  if (enabled) await writeFile("/proc/sys/vm/drop_caches", "3\n").catch(() => undefined);
}

export async function benchBtrfsReplication(
  o: ReplicationBenchOptions,
): Promise<ReplicationBenchResult> {
  const plan = "bench";
  const snapDir = join(o.subvolume, SNAPSHOT_DIR_NAME);
  const stateDir = await mkdtemp(join(tmpdir(), "snapback-bench-replication-"));
  const made: string[] = [];
  const dropping = o.dropCaches ?? true;
  const ctx = (runId: string): BtrfsReplication => ({
    host: localHost,
    targetRoot: o.targetRoot,
    planName: plan,
    runId,
    repoName: "bench",
    stateDir,
    otherRepos: [],
    rules: {},
    localSnapshots: 0,
    signal: new AbortController().signal,
    warn: () => undefined,
  });
  const snapshot = async (): Promise<{ path: string; runId: string }> => {
    const runId = newRunId();
    const path = join(snapDir, formatSnapshotName({ plan, runId, item: 1 }));
    await mkdir(snapDir, { recursive: true, mode: 0o700 });
    await run("btrfs", ["subvolume", "snapshot", "-r", o.subvolume, path]);
    made.push(path);
    return { path, runId };
  };
  const bareDir = targetDirFor(o.bareTargetRoot, o.subvolume);
  try {
    const dataDir = join(o.subvolume, "bench-data");
    await mkdir(join(dataDir, "many"), { recursive: true });
    for (let i = 0; i < o.manyFiles; i++)
      await writeFile(join(dataDir, "many", `f${i}`), `file ${i}\n`);
    await writeRandom(join(dataDir, "base"), o.changeBytes);

    let prev = await snapshot();
    await replicateBtrfsSnapshot(ctx(prev.runId), o.subvolume, prev.path);
    await mkdir(bareDir, { recursive: true });
    await run("sh", ["-c", 'btrfs send -q "$1" | btrfs receive -q "$2"', "sh", prev.path, bareDir]);

    const bare: number[] = [];
    const ours: number[] = [];
    const transfer: number[] = [];
    for (let i = 0; i < o.repeat; i++) {
      await writeRandom(join(dataDir, `change${i}`), o.changeBytes);
      const next = await snapshot();
      await dropCaches(dropping);
      let t0 = performance.now();
      await run("sh", [
        "-c",
        'btrfs send -q -p "$1" "$2" | btrfs receive -q "$3"',
        "sh",
        prev.path,
        next.path,
        bareDir,
      ]);
      bare.push((performance.now() - t0) / 1000);
      await dropCaches(dropping);
      t0 = performance.now();
      const rec = await replicateBtrfsSnapshot(ctx(next.runId), o.subvolume, next.path);
      ours.push((performance.now() - t0) / 1000);
      transfer.push(rec.durationS);
      prev = next;
    }

    await writeFile(join(dataDir, "small-change"), randomBytes(4096));
    const small = await snapshot();
    await dropCaches(dropping);
    const t0 = performance.now();
    const rec = await replicateBtrfsSnapshot(ctx(small.runId), o.subvolume, small.path);
    const smallChangeMs = performance.now() - t0;

    const bareSeconds = median(bare);
    const snapbackSeconds = median(ours);
    const mib = o.changeBytes / 1024 / 1024;
    return {
      changeBytes: o.changeBytes,
      bareSeconds,
      snapbackSeconds,
      snapbackTransferSeconds: median(transfer),
      throughputRatio: bareSeconds / snapbackSeconds,
      bareMiBps: mib / bareSeconds,
      snapbackMiBps: mib / snapbackSeconds,
      smallChangeMs,
      smallChangeTransferMs: rec.durationS * 1000,
    };
  } finally {
    for (const dir of [targetDirFor(o.targetRoot, o.subvolume), bareDir]) {
      for (const name of await readdir(dir).catch(() => []))
        await deleteSubvolume(join(dir, name)).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
    for (const path of made.reverse()) await deleteSubvolume(path).catch(() => undefined);
    await rmdir(snapDir).catch(() => undefined);
    await rm(join(o.subvolume, "bench-data"), { recursive: true, force: true });
    await rm(stateDir, { recursive: true, force: true });
  }
}
