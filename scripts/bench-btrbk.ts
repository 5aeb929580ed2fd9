/**
 * `make bench`, replication against a real peer (issue 10): snapback's btrfs replication of
 * a subvolume against Debian's `btrbk` doing the same — same source, same deltas (one large
 * new file plus small edits per round), each tool keeping its own previous snapshot as the
 * parent, whole commands timed, the order alternating round by round.
 *
 * Each tool receives into a filesystem of its own. On a shared one btrbk finds snapback's
 * copy of the round's new data there (same received_uuid as snapback's source snapshot, which
 * it lists beside its own) and sends it as clone references (`btrfs send -c`): it then ran in
 * 0.15 s after snapback and 0.30 s before it, and a median of such rounds measured that, not
 * the tools.
 */
import { randomBytes } from "node:crypto";
import { appendFile, chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../src/exec/index.js";
import { SNAPBACK_ENV } from "./bench-env.js";
import { createLoopBtrfs } from "../test/fixtures/btrfs.js";

export interface BtrbkBenchOptions {
  /** The snapback CLI bundle. */
  cli: string;
  /** Work directory (config, state dir); removed by the caller. */
  dir: string;
  /** Initial size of the subvolume, in MiB (random data in 1 MiB files plus small files). */
  sizeMiB: number;
  /** New bytes per round, in MiB. */
  changeMiB: number;
  repeat: number;
  say: (m: string) => void;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

async function timed(file: string, args: string[], env?: NodeJS.ProcessEnv): Promise<number> {
  await run("sync", []);
  const t0 = performance.now();
  await run(file, args, env ? { env } : {});
  return (performance.now() - t0) / 1000;
}

async function writeRandom(path: string, mib: number): Promise<void> {
  await writeFile(path, "");
  for (let i = 0; i < mib; i++) await appendFile(path, randomBytes(1024 * 1024));
}

export async function benchBtrbk(o: BtrbkBenchOptions): Promise<string> {
  const btrbk = await run("btrbk", ["--version"], { reject: false });
  if (btrbk.exitCode !== 0) {
    return "### Replication, snapback vs btrbk\n\nskipped: `btrbk` is not installed (`make deps` installs it)\n";
  }
  const imageMiB = Math.max(1024, 2 * (o.sizeMiB + o.repeat * o.changeMiB) + 512);
  await using src = await createLoopBtrfs(imageMiB, "snapback-bench-btrbk-src");
  await using dst = await createLoopBtrfs(imageMiB, "snapback-bench-btrbk-dst");
  await using btrbkDst = await createLoopBtrfs(imageMiB, "snapback-bench-btrbk-dst2");
  const data = await src.subvolume("data");
  o.say(`btrbk: writing ${o.sizeMiB} MiB into ${data}`);
  for (let i = 0; i < o.sizeMiB / 2; i++) await writeRandom(join(data, `blob${i}`), 1);
  for (let d = 0; d < 20; d++) {
    await mkdir(join(data, `small${d}`));
    for (let f = 0; f < 100; f++) {
      await writeFile(join(data, `small${d}`, `f${f}`), randomBytes(4096).toString("hex"));
    }
  }
  await writeRandom(join(data, "rest"), Math.max(1, o.sizeMiB / 2 - 8));

  const snapTarget = join(dst.mountpoint, "snapback");
  const btrbkTarget = join(btrbkDst.mountpoint, "btrbk");
  await mkdir(snapTarget);
  await mkdir(btrbkTarget);
  await mkdir(join(src.mountpoint, "btrbk_snapshots"));
  const config = join(o.dir, "snapback.toml");
  await writeFile(
    config,
    [
      `state_dir = "${join(o.dir, "state")}"`,
      "[repositories.t]",
      'engine = "btrfs"',
      `path = "${snapTarget}"`,
      "keep_last = 1",
      "[plans.p]",
      `sources = ["${data}"]`,
      'repositories = ["t"]',
      'snapshot = "btrfs"',
      "",
    ].join("\n"),
  );
  await chmod(config, 0o600);
  const btrbkConf = join(o.dir, "btrbk.conf");
  await writeFile(
    btrbkConf,
    [
      "timestamp_format long-iso",
      "snapshot_preserve_min latest",
      "snapshot_preserve no",
      "target_preserve_min latest",
      "target_preserve no",
      `volume ${src.mountpoint}`,
      "  snapshot_dir btrbk_snapshots",
      "  subvolume data",
      `    target send-receive ${btrbkTarget}`,
      "",
    ].join("\n"),
  );
  const snapback = (): Promise<number> =>
    timed(process.execPath, [o.cli, "--config", config, "--quiet", "backup", "p"], SNAPBACK_ENV);
  const btrbkRun = (): Promise<number> => timed("btrbk", ["-c", btrbkConf, "-q", "run"]);

  o.say("btrbk: full replication of both (not measured)");
  await snapback();
  await btrbkRun();
  const ours: number[] = [];
  const theirs: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < o.repeat; i++) {
    o.say(`btrbk: round ${i + 1} of ${o.repeat}`);
    await writeRandom(join(data, `new${i}`), o.changeMiB);
    for (let d = 0; d < 20; d++) await appendFile(join(data, `small${d}`, "f0"), `edit ${i}\n`);
    let s: number;
    let b: number;
    if (i % 2 === 0) {
      s = await snapback();
      b = await btrbkRun();
    } else {
      b = await btrbkRun();
      s = await snapback();
    }
    ours.push(s);
    theirs.push(b);
    ratios.push(s / b);
  }
  // Both sides' snapshots go with the loop filesystems; snapback's pinned parent as well.
  const q = median(ratios);
  const list = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(", ");
  return [
    `### Replication, snapback vs btrbk (${btrbk.stdout.trim().split("\n")[0] ?? "btrbk"}; ${o.sizeMiB} MiB subvolume, ${o.changeMiB} MiB new + 20 small edits per round, ${o.repeat} rounds alternating)`,
    "",
    "| measure | snapback | btrbk | ratio | target | met? |",
    "|---|---|---|---|---|---|",
    `| incremental replication, whole command | ${median(ours).toFixed(2)} s | ${median(theirs).toFixed(2)} s | ${q.toFixed(2)} (snapback/btrbk, median of the rounds' ratios) | ≤ 1.0 | ${q <= 1 ? "yes" : "**no**"} |`,
    "",
    `Rounds (s): snapback ${list(ours)}; btrbk ${list(theirs)}.`,
    "",
  ].join("\n");
}
