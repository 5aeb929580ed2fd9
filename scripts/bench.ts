/**
 * `make bench`: snapback against bare restic and against the naive "snapshot, then restic on
 * the snapshot's path" script, on a generated tree in a real btrfs loop filesystem. One run;
 * prints a markdown table of ratios and the machine. Never asserts times (it is no test): a
 * missed target is reported, not failed. `--quick` shrinks everything for a smoke run whose
 * figures mean nothing; `--repeat=N` measures each incremental N times (default 3).
 */
import type { SummaryEvent } from "../src/core/events.js";
import { createCipheriv, createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, open, rm, stat, statfs, symlink, writeFile } from "node:fs/promises";
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { ProcessError, run, type RunOptions, type RunResult } from "../src/exec/index.js";
import { DeferStack } from "../src/core/defer.js";
import { createLoopBtrfs } from "../test/fixtures/btrfs.js";
import { createTestRepo, type TestRepo } from "../test/fixtures/restic.js";
import { benchBtrfsReplication } from "./bench-replication.js";
import { benchServe } from "./bench-serve.js";
import { benchBtrbk } from "./bench-btrbk.js";
import { SNAPBACK_ENV } from "./bench-env.js";
import { benchIgnoreFiles } from "./bench-ignore.js";
import { benchPages, benchTree, bundleSizes } from "./bench-webui.js";

const SEED = 20240611;
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const KiB = 1024;
const MIN_FREE_BYTES = 12 * GiB;
const WRITE_CONCURRENCY = 32;
const RSS_POLL_MS = 50;

interface Scale {
  quick: boolean;
  files: number;
  topDirs: number;
  subDirs: number;
  bigFiles: number;
  bigBytes: number;
  minBytes: number;
  imageMiB: number;
  /** Measured repetitions of each incremental; the table shows medians. */
  repeat: number;
  /** Files in each of the four small subvolumes of the four-source plan. */
  smallSourceFiles: number;
}

const FULL: Scale = {
  quick: false,
  files: 60_000,
  topDirs: 20,
  subDirs: 25,
  bigFiles: 4,
  bigBytes: 64 * MiB,
  minBytes: GiB,
  imageMiB: 4096,
  repeat: 3,
  smallSourceFiles: 500,
};

const QUICK: Scale = {
  quick: true,
  files: 3_000,
  topDirs: 10,
  subDirs: 5,
  bigFiles: 1,
  bigBytes: 16 * MiB,
  minBytes: 64 * MiB,
  imageMiB: 1024,
  repeat: 1,
  smallSourceFiles: 50,
};

class BenchError extends Error {}

// ---------------------------------------------------------------- the generated tree

/** mulberry32: small, fast, and the same sequence on every machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface FileSpec {
  path: string;
  size: number;
  /** Text compresses ~3x; everything else is an AES-CTR keystream, which does not compress. */
  text: boolean;
  /** Unique per file across the whole run, so no two files deduplicate. */
  id: number;
}

function logUniform(rnd: () => number, lo: number, hi: number): number {
  return Math.round(lo * (hi / lo) ** rnd());
}

/**
 * Mostly small files (as in a home directory), some medium, a few large, and a few big blobs
 * (VM images, archives), so both per-file overhead and raw throughput count.
 */
function planTree(scale: Scale, seed: number, firstId: number, prefix = ""): FileSpec[] {
  const rnd = prng(seed);
  const specs: FileSpec[] = [];
  const dirs = scale.topDirs * scale.subDirs;
  let id = firstId;
  for (let i = 0; i < scale.files; i++) {
    const d = i % dirs;
    const dir = `${prefix}d${String(Math.floor(d / scale.subDirs)).padStart(2, "0")}/s${String(d % scale.subDirs).padStart(2, "0")}`;
    const r = rnd();
    const size =
      r < 0.88
        ? logUniform(rnd, 512, 16 * KiB)
        : r < 0.997
          ? logUniform(rnd, 16 * KiB, 256 * KiB)
          : logUniform(rnd, 256 * KiB, 8 * MiB);
    const text = size <= 256 * KiB && rnd() < 0.15;
    specs.push({ path: `${dir}/f${i}.${text ? "txt" : "bin"}`, size, text, id: id++ });
  }
  let total = specs.reduce((n, s) => n + s.size, 0);
  for (let k = 0; k < scale.bigFiles || total < scale.minBytes; k++) {
    specs.push({ path: `${prefix}big/blob${k}.bin`, size: scale.bigBytes, text: false, id: id++ });
    total += scale.bigBytes;
  }
  return specs;
}

const KEY = createHash("sha256").update(`snapback-bench-${SEED}`).digest();
const CHUNK = 8 * MiB;
const ZEROS = Buffer.alloc(CHUNK);
const WORDS =
  "backup snapshot restore btrfs subvolume restic repository parent tree blob index pack chunk mount namespace journal plan source exclude retention prune check cleanup lock device inode mtime ctime size hardlink metadata".split(
    " ",
  );

function textContent(id: number, size: number): Buffer {
  const rnd = prng(id ^ 0x5bd1e995);
  const parts: string[] = [];
  let n = 0;
  while (n < size) {
    const line = `${Math.floor(rnd() * 1e9)} ${Array.from({ length: 8 }, () => WORDS[Math.floor(rnd() * WORDS.length)]).join(" ")}\n`;
    parts.push(line);
    n += line.length;
  }
  return Buffer.from(parts.join("")).subarray(0, size);
}

async function writeSpec(root: string, s: FileSpec): Promise<void> {
  const path = join(root, s.path);
  if (s.text) return writeFile(path, textContent(s.id, s.size));
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(s.id, 0);
  iv.writeUInt32BE(SEED, 4);
  const cipher = createCipheriv("aes-256-ctr", KEY, iv);
  if (s.size <= CHUNK) return writeFile(path, cipher.update(ZEROS.subarray(0, s.size)));
  const fh = await open(path, "w");
  try {
    for (let done = 0; done < s.size; done += CHUNK) {
      await fh.write(cipher.update(ZEROS.subarray(0, Math.min(CHUNK, s.size - done))));
    }
  } finally {
    await fh.close();
  }
}

async function generate(root: string, specs: FileSpec[], signal: AbortSignal): Promise<void> {
  for (const dir of new Set(specs.map((s) => dirname(s.path)))) {
    await mkdir(join(root, dir), { recursive: true });
  }
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < specs.length; i = next++) {
      if (signal.aborted) throw new BenchError("interrupted");
      const spec = specs[i];
      if (spec) await writeSpec(root, spec);
    }
  };
  await Promise.all(Array.from({ length: WRITE_CONCURRENCY }, worker));
}

// ---------------------------------------------------------------- measuring

/** What restic reported for one run (snapback's `summary` event carries the same fields). */
type Counts = Pick<
  SummaryEvent,
  | "files_new"
  | "files_changed"
  | "files_unmodified"
  | "dirs_new"
  | "dirs_changed"
  | "dirs_unmodified"
  | "data_added"
  | "total_files_processed"
  | "total_bytes_processed"
> & {
  /** restic's own time for the backup (its summary), without process start and repository opening. */
  restic_s: number;
};

interface Measured {
  ms: number;
  counts: Counts;
}

interface SnapbackMeasured extends Measured {
  phases: {
    /** Node start, config, plan, cleanup of old runs, opening the repository, the snapshots. */
    beforeSnapshotsMs: number;
    /** The view, restic (start, repository open, backup), the snapshot id lookup. */
    engineMs: number;
    /**
     * restic's exit, the snapshot removal (the kernel evicts every inode restic looked at in
     * the snapshot: it grows with the number of files), the journal.
     */
    removalMs: number;
    /** The result: history, notifications, metrics, exit. */
    finishMs: number;
  };
  snapshotId: string;
  tookMs: number;
  skewMs: number;
  /** VmHWM of the snapback (node) process, KiB. */
  peakKiB: number;
}

function countsOf(o: Record<string, unknown>): Counts {
  const n = (k: string): number => (typeof o[k] === "number" ? o[k] : 0);
  return {
    files_new: n("files_new"),
    files_changed: n("files_changed"),
    files_unmodified: n("files_unmodified"),
    dirs_new: n("dirs_new"),
    dirs_changed: n("dirs_changed"),
    dirs_unmodified: n("dirs_unmodified"),
    data_added: n("data_added"),
    total_files_processed: n("total_files_processed"),
    total_bytes_processed: n("total_bytes_processed"),
    // restic calls it total_duration; snapback's summary event duration_s.
    restic_s: n("total_duration") || n("duration_s"),
  };
}

function jsonLines(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // restic 0.14 interleaves the odd plain line; only the JSON ones matter.
    }
  }
  return out;
}

function tail(text: string, lines = 8): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}

/** Both sides of every comparison start with an empty page cache (data, metadata and repo). */
async function coldStart(): Promise<void> {
  await run("sync", []);
  await writeFile("/proc/sys/vm/drop_caches", "3\n");
}

class Bench {
  readonly peaks: { what: string; kib: number }[] = [];

  constructor(
    private readonly signal: AbortSignal,
    readonly cli: string,
    private readonly configPath: string,
    private readonly mountpoint: string,
  ) {}

  /**
   * Waits until deleted subvolumes are really gone: only then is a deleted snapshot's device
   * number free again, so the next snapshot's number does not depend on the cleaner's timing.
   */
  async settle(): Promise<void> {
    await this.exec("btrfs", ["subvolume", "sync", this.mountpoint]);
  }

  exec(file: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
    return run(file, args, { signal: this.signal, killSignal: "SIGINT", ...options });
  }

  checkAborted(): void {
    if (this.signal.aborted) throw new BenchError("interrupted");
  }

  /**
   * The CLI exactly as a user runs it. Peak RSS: VmHWM of the node process only (restic runs
   * in its own processes and is not counted), polled every 50 ms; VmHWM never decreases, so
   * the last sample is the peak up to at most 50 ms before exit.
   */
  async snapback(what: string, plan: string): Promise<SnapbackMeasured> {
    this.checkAborted();
    await this.settle();
    await coldStart();
    let peakKiB = 0;
    let timer: NodeJS.Timeout | undefined;
    // Events arrive as they are emitted (stdout to a pipe is synchronous in node), so their
    // arrival times split the command into phases.
    const arrived = new Map<string, number>();
    const t0 = performance.now();
    const r = await this.exec(
      process.execPath,
      [this.cli, "--config", this.configPath, "--json", "backup", plan],
      {
        reject: false,
        env: SNAPBACK_ENV,
        onStdoutLine: (line) => {
          const type = /"type":"(\w+)"/.exec(line)?.[1];
          if (type && !arrived.has(type)) arrived.set(type, performance.now());
        },
        onSpawn: (child) => {
          const sample = (): void => {
            try {
              const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
              if (m?.[1]) peakKiB = Math.max(peakKiB, Number(m[1]));
            } catch {
              // Exited between samples: the previous sample stands.
            }
          };
          sample();
          timer = setInterval(sample, RSS_POLL_MS);
        },
      },
    );
    const ms = performance.now() - t0;
    clearInterval(timer);
    this.checkAborted();
    const events = jsonLines(r.stdout);
    const result = events.find((e) => e["type"] === "result");
    const snaps = events.find((e) => e["type"] === "snapshots");
    const summary = events.find((e) => e["type"] === "summary");
    if (r.exitCode !== 0 || result?.["status"] !== "success" || !snaps || !summary) {
      throw new BenchError(
        `snapback backup ${plan} (${what}) exited ${r.exitCode ?? r.signal}:\n${tail(r.stderr)}`,
      );
    }
    this.peaks.push({ what, kib: peakKiB });
    const at = (type: string): number => arrived.get(type) ?? NaN;
    return {
      phases: {
        beforeSnapshotsMs: at("snapshots") - t0,
        engineMs: at("summary") - at("snapshots"),
        removalMs: at("result") - at("summary"),
        finishMs: t0 + ms - at("result"),
      },
      ms,
      counts: countsOf(summary),
      snapshotId: String(summary["snapshot_id"]),
      tookMs: Number(snaps["took_ms"]),
      skewMs: Number(snaps["skew_ms"]),
      peakKiB,
    };
  }

  /** `restic backup` with what snapback itself passes that matters: --json and the same excludes. */
  async restic(repo: TestRepo, cacheDir: string, paths: string[]): Promise<Measured> {
    this.checkAborted();
    await coldStart();
    const t0 = performance.now();
    const counts = await this.resticBackup(repo, cacheDir, paths);
    return { ms: performance.now() - t0, counts };
  }

  /** What a hand-written script does: a fresh read-only snapshot, restic on its path, delete. */
  async naive(
    repo: TestRepo,
    cacheDir: string,
    subvolume: string,
    snapshot: string,
  ): Promise<Measured> {
    this.checkAborted();
    await coldStart();
    const t0 = performance.now();
    await this.exec("btrfs", ["subvolume", "snapshot", "-r", subvolume, snapshot]);
    let counts: Counts;
    try {
      counts = await this.resticBackup(repo, cacheDir, [snapshot]);
    } finally {
      await run("btrfs", ["subvolume", "delete", snapshot], { reject: false });
    }
    return { ms: performance.now() - t0, counts };
  }

  private async resticBackup(repo: TestRepo, cacheDir: string, paths: string[]): Promise<Counts> {
    const r = await this.exec(
      "restic",
      ["backup", "--json", "--exclude=.snapback", "--", ...paths],
      {
        reject: false,
        env: {
          RESTIC_REPOSITORY: repo.url,
          RESTIC_PASSWORD_FILE: repo.passwordFile,
          RESTIC_CACHE_DIR: cacheDir,
        },
      },
    );
    this.checkAborted();
    const summary = jsonLines(r.stdout).find((e) => e["message_type"] === "summary");
    if (r.exitCode !== 0 || !summary) {
      throw new BenchError(
        `restic backup ${paths.join(" ")} exited ${r.exitCode ?? r.signal}:\n${tail(r.stderr)}`,
      );
    }
    return countsOf(summary);
  }
}

/**
 * The st_dev restic recorded for `path` in each snapshot, read back from the repository:
 * the evidence that measure 2 kept one device number and 2b did not.
 */
async function recordedDeviceIds(repo: TestRepo, path: string, ids: string[]): Promise<string[]> {
  const blobs = new Map<string, TreeJson>();
  const blob = async (id: string): Promise<TreeJson> => {
    const cached = blobs.get(id);
    if (cached) return cached;
    const tree = JSON.parse(await repo.restic(["cat", "blob", id])) as TreeJson;
    blobs.set(id, tree);
    return tree;
  };
  const out: string[] = [];
  for (const id of ids) {
    let tree = (JSON.parse(await repo.restic(["cat", "snapshot", id])) as { tree: string }).tree;
    let dev: number | undefined;
    for (const name of path.split("/").filter(Boolean)) {
      const node = (await blob(tree)).nodes.find((n) => n.name === name);
      dev = node?.device_id;
      tree = node?.subtree ?? "";
    }
    out.push(dev === undefined ? "?" : String(dev));
  }
  return out;
}

interface TreeJson {
  nodes: { name: string; subtree?: string; device_id?: number }[];
}

function ancestors(rel: string): string[] {
  const out: string[] = [];
  for (let d = rel; d !== "." && d !== "/"; d = dirname(d)) out.push(d);
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

// ---------------------------------------------------------------- the machine

async function firstLine(file: string, args: string[]): Promise<string> {
  const r = await run(file, args, { reject: false });
  return (r.stdout || r.stderr).trim().split("\n")[0] ?? "?";
}

async function describeMachine(dir: string): Promise<[string, string][]> {
  const cpu = cpus()[0]?.model.trim() ?? "?";
  const source = await firstLine("findmnt", ["-n", "-o", "SOURCE,FSTYPE", "-T", dir]);
  const dev = source.split(/\s+/)[0] ?? "";
  const disk = dev.startsWith("/dev/")
    ? await firstLine("lsblk", ["-dn", "-o", "NAME,SIZE,ROTA,MODEL", dev])
    : "?";
  return [
    ["CPU", `${cpu}, nproc ${availableParallelism()}`],
    ["memory", `${(totalmem() / GiB).toFixed(1)} GiB`],
    ["kernel", release()],
    ["restic", await firstLine("restic", ["version"])],
    ["btrfs-progs", await firstLine("btrfs", ["--version"])],
    ["node", process.version],
    [
      "load average (1, 5, 15 min) at start",
      loadavg()
        .map((l) => l.toFixed(2))
        .join(", "),
    ],
    [
      "disk under the loop image",
      `${source} (lsblk: ${disk.replace(/\s+/g, " ").trim()}; ROTA 0 = non-rotational)`,
    ],
  ];
}

// ---------------------------------------------------------------- the world

interface World {
  scale: Scale;
  specs: FileSpec[];
  genMs: number;
  data: string;
  /** The four small subvolumes of the four-source plan. */
  small: string[];
  /** Plain directory on the filesystem for the naive script's snapshots. */
  naiveDir: string;
  snapRepo: TestRepo;
  bareRepo: TestRepo;
  naiveRepo: TestRepo;
  work: string;
  bench: Bench;
}

const say = (m: string): void => void process.stderr.write(`bench: ${m}\n`);

function parseScale(argv: string[]): Scale {
  const base = argv.includes("--quick") ? QUICK : FULL;
  // On a busy machine more repetitions make the medians worth more.
  const arg = argv.find((a) => a.startsWith("--repeat="));
  const repeat = arg === undefined ? base.repeat : Number(arg.slice("--repeat=".length));
  if (!Number.isInteger(repeat) || repeat < 1) {
    throw new BenchError("--repeat=N needs a whole number ≥ 1");
  }
  return { ...base, repeat };
}

async function preflight(scale: Scale, cli: string): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new BenchError("run as root (loop devices, mounts, btrfs snapshots)");
  }
  if (!existsSync(cli)) throw new BenchError(`${cli} not found: run \`make build\` first`);
  const fsStat = await statfs(tmpdir());
  const free = fsStat.bavail * fsStat.bsize;
  if (free < MIN_FREE_BYTES) {
    throw new BenchError(
      `${tmpdir()} has ${(free / GiB).toFixed(1)} GiB free; the benchmark needs at least ${MIN_FREE_BYTES / GiB} GiB (a ${scale.imageMiB} MiB image and four restic repositories)`,
    );
  }
}

/** Loop filesystem, repositories, the tree, the config; every piece is on `stack` first. */
async function setUp(
  scale: Scale,
  cli: string,
  signal: AbortSignal,
  stack: DeferStack,
): Promise<World> {
  const work = await mkdtemp(join(tmpdir(), "snapback-bench-"));
  stack.defer(`removing ${work}`, () => rm(work, { recursive: true, force: true }));
  const loop = await createLoopBtrfs(scale.imageMiB, "snapback-bench");
  stack.defer(`removing the loop filesystem ${loop.device}`, async () => {
    await loop[Symbol.asyncDispose]();
  });
  // Without noatime the first read of a live file updates its atime, which restic records:
  // whichever side reads the live tree first would change the other side's trees.
  await run("mount", ["-o", "remount,noatime", loop.mountpoint]);
  const repos: TestRepo[] = [];
  for (let i = 0; i < 4; i++) {
    const repo = await createTestRepo();
    stack.defer(`removing ${repo.dir}`, async () => {
      await repo[Symbol.asyncDispose]();
    });
    repos.push(repo);
  }
  const [snapRepo, bareRepo, naiveRepo, fourRepo] = repos as [
    TestRepo,
    TestRepo,
    TestRepo,
    TestRepo,
  ];

  const data = await loop.subvolume("data");
  const small: string[] = [];
  for (let i = 1; i <= 4; i++) small.push(await loop.subvolume(`q${i}`));
  const naiveDir = join(loop.mountpoint, "naive");
  await mkdir(naiveDir);

  const specs = planTree(scale, SEED, 0);
  const totalBytes = specs.reduce((n, s) => n + s.size, 0);
  say(`generating ${specs.length} files, ${(totalBytes / GiB).toFixed(2)} GiB in ${data}`);
  const t0 = performance.now();
  await generate(data, specs, signal);
  const smallScale = { ...scale, files: scale.smallSourceFiles, topDirs: 2, subDirs: 5 };
  for (const [i, dir] of small.entries()) {
    const smallSpecs = planTree(
      { ...smallScale, bigFiles: 0, minBytes: 0 },
      SEED + i + 1,
      1e6 * (i + 1),
    );
    await generate(dir, smallSpecs, signal);
  }
  await run("sync", []);
  const genMs = performance.now() - t0;
  say(`generated in ${sec(genMs)}`);

  const configPath = join(work, "snapback.toml");
  const repoToml = (name: string, r: TestRepo): string =>
    `[repositories.${name}]\nengine = "restic"\nurl = ${JSON.stringify(r.url)}\npassword_file = ${JSON.stringify(r.passwordFile)}\n`;
  const config = [
    `state_dir = ${JSON.stringify(join(work, "state"))}`,
    repoToml("main", snapRepo),
    repoToml("four", fourRepo),
    "[plans.bench]",
    `sources = [${JSON.stringify(data)}]`,
    'repositories = ["main"]',
    'snapshot = "btrfs"',
    "[plans.four]",
    `sources = [${small.map((s) => JSON.stringify(s)).join(", ")}]`,
    'repositories = ["four"]',
    'snapshot = "btrfs"',
    "",
  ];
  await writeFile(configPath, config.join("\n"), { mode: 0o600 });
  const bench = new Bench(signal, cli, configPath, loop.mountpoint);
  return { scale, specs, genMs, data, small, naiveDir, snapRepo, bareRepo, naiveRepo, work, bench };
}

// ---------------------------------------------------------------- the measurements

interface Results {
  snapFirst: SnapbackMeasured;
  bareFirst: Measured;
  snapInc: SnapbackMeasured[];
  bareInc: Measured[];
  snapIncNewDev: SnapbackMeasured[];
  naiveFirst: Measured;
  naiveInc: Measured[];
  fourFirst: SnapbackMeasured;
  four: SnapbackMeasured[];
  /** st_dev restic recorded for the data subvolume, in run order: first, phase 2, phase 2b. */
  devIds: string[];
  peaks: { what: string; kib: number }[];
  /** Median wall time of `restic cat config` (warm): the price of opening the repository. */
  repoOpenMs: number;
  /** Median wall times of doing nothing, from an empty page cache, as every measured run starts. */
  coldStarts: { node: number; snapback: number; restic: number };
}

async function measure(w: World, stack: DeferStack): Promise<Results> {
  const { bench, scale, data } = w;
  const bareCache = join(w.work, "cache-bare");
  const naiveCache = join(w.work, "cache-naive");

  say("1/4 first backups");
  const snapFirst = await bench.snapback("first backup", "bench");
  const bareFirst = await bench.restic(w.bareRepo, bareCache, [data]);

  say(`2/4 unchanged incrementals (${scale.repeat}x each, alternating)`);
  const snapInc: SnapbackMeasured[] = [];
  const bareInc: Measured[] = [];
  for (let i = 0; i < scale.repeat; i++) {
    snapInc.push(await bench.snapback(`incremental ${i + 1}`, "bench"));
    bareInc.push(await bench.restic(w.bareRepo, bareCache, [data]));
  }

  // btrfs gives every subvolume an anonymous device number, and a deleted snapshot's number
  // is handed to the next one: with nothing else allocating one in between, each run's
  // snapshot has the same st_dev as the last. On a real machine anything that mounts
  // (containers, other snapshots) shifts it. Holding one more subvolume open per run forces
  // a new number each time, which restic < 0.17 stores in every node.
  say(`2b/4 unchanged incrementals, a new device id forced each run (${scale.repeat}x each)`);
  const snapIncNewDev: SnapbackMeasured[] = [];
  for (let i = 0; i < scale.repeat; i++) {
    const holder = join(w.naiveDir, `devid-holder-${i}`);
    await bench.settle();
    await bench.exec("btrfs", ["subvolume", "snapshot", "-r", w.small[0] ?? data, holder]);
    stack.defer(`removing ${holder}`, async () => {
      await run("btrfs", ["subvolume", "delete", holder], { reject: false });
    });
    await stat(holder);
    snapIncNewDev.push(await bench.snapback(`incremental, new device id ${i + 1}`, "bench"));
    bareInc.push(await bench.restic(w.bareRepo, bareCache, [data]));
  }

  say(`3/4 naive snapshot-path script (1 initial + ${scale.repeat} incremental)`);
  const naive = (n: number): Promise<Measured> =>
    bench.naive(w.naiveRepo, naiveCache, data, join(w.naiveDir, `snap-${n}`));
  const naiveFirst = await naive(0);
  const naiveInc: Measured[] = [];
  for (let i = 1; i <= scale.repeat; i++) naiveInc.push(await naive(i));

  say(`4/4 four sources in one plan (1 initial + ${scale.repeat} measured)`);
  const fourFirst = await bench.snapback("four sources, first", "four");
  const four: SnapbackMeasured[] = [];
  for (let i = 0; i < scale.repeat; i++) {
    four.push(await bench.snapback(`four sources ${i + 1}`, "four"));
  }

  // What one more `restic` command against the repository costs before it does anything:
  // mostly the scrypt key derivation restic calibrated at `init`.
  const openRuns: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await w.snapRepo.restic(["cat", "config"]);
    openRuns.push(performance.now() - t0);
  }

  // Every measured command starts from an empty page cache, the program's own binary
  // included: what each costs before doing anything splits snapback's overhead into node's
  // and its own.
  const cold = async (file: string, args: string[], env?: NodeJS.ProcessEnv): Promise<number> => {
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) {
      await coldStart();
      const t0 = performance.now();
      await bench.exec(file, args, env ? { env } : {});
      runs.push(performance.now() - t0);
    }
    return median(runs);
  };
  const coldStarts = {
    node: await cold(process.execPath, ["-e", "0"], SNAPBACK_ENV),
    snapback: await cold(process.execPath, [bench.cli, "--version"], SNAPBACK_ENV),
    restic: await cold("restic", ["version"]),
  };

  say("reading back the device ids restic recorded");
  const ids = [snapFirst, ...snapInc, ...snapIncNewDev].map((m) => m.snapshotId);
  const devIds = await recordedDeviceIds(w.snapRepo, data, ids);
  return {
    snapFirst,
    bareFirst,
    snapInc,
    bareInc,
    snapIncNewDev,
    naiveFirst,
    naiveInc,
    fourFirst,
    four,
    devIds,
    peaks: bench.peaks,
    repoOpenMs: median(openRuns),
    coldStarts,
  };
}

// ---------------------------------------------------------------- the report

const sec = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const secs = (runs: Measured[]): string => runs.map((m) => (m.ms / 1000).toFixed(2)).join(", ");
const ratio = (a: number, b: number): string => (b > 0 ? (a / b).toFixed(2) : "—");
const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;
const met = (ok: boolean): string => (ok ? "yes" : "**no**");
const last = <T>(xs: T[], fallback: T): T => xs[xs.length - 1] ?? fallback;
const medianMs = (runs: Measured[]): number => median(runs.map((m) => m.ms));

function countsRow(name: string, m: Measured): string {
  const c = m.counts;
  return `| ${name} | ${c.files_new} | ${c.files_changed} | ${c.files_unmodified} | ${c.dirs_new} | ${c.dirs_changed} | ${c.dirs_unmodified} | ${mib(c.data_added)} | ${c.restic_s.toFixed(2)} s | ${sec(m.ms)} |`;
}

function resticOwn(runs: Measured[]): string {
  return `${median(runs.map((m) => m.counts.restic_s)).toFixed(2)} s`;
}

function breakdownRow(name: string, runs: SnapbackMeasured[]): string {
  const phase = (k: keyof SnapbackMeasured["phases"]): string =>
    sec(median(runs.map((m) => m.phases[k])));
  return `| ${name} | ${sec(medianMs(runs))} | ${phase("beforeSnapshotsMs")} | ${phase("engineMs")} | ${resticOwn(runs)} | ${phase("removalMs")} | ${phase("finishMs")} |`;
}

/** restic 0.14 rewrote the directory metadata: every tree differs from the parent's. */
const treesRewritten = (m: Measured): boolean => m.counts.dirs_changed > m.counts.dirs_unmodified;

function report(w: World, r: Results, machine: [string, string][]): string {
  const { scale, specs } = w;
  const incs = [...r.snapInc, ...r.snapIncNewDev];
  const kept = incs.filter((m) => !treesRewritten(m));
  const moved = incs.filter(treesRewritten);
  const bareIncMs = medianMs(r.bareInc);
  const naiveIncMs = medianMs(r.naiveInc);
  const snapIncMs = medianMs(incs);
  // Every snapback incremental is followed by a bare one (r.bareInc[k] pairs with incs[k]):
  // the median of the pairs' ratios does not drift with the load of a shared machine the way
  // a ratio of two medians taken minutes apart does.
  const incRow = (name: string, runs: SnapbackMeasured[]): string => {
    const pairs = runs.map((m) => ({ m, bare: r.bareInc[incs.indexOf(m)] }));
    const bare = pairs.flatMap((p) => (p.bare ? [p.bare] : []));
    if (runs.length === 0 || bare.length !== runs.length) {
      return `| ${name} (no such run) | — | — | — | ≤ 1.10 | — |`;
    }
    const q = median(pairs.map((p) => p.m.ms / (p.bare?.ms ?? NaN)));
    return `| ${name} (${runs.length} pairs) | ${sec(medianMs(runs))} | ${sec(medianMs(bare))} | ${q.toFixed(2)} (snapback/bare, median of the pairs' ratios) | ≤ 1.10 | ${met(q <= 1.1)} |`;
  };
  const oneSource = [r.snapFirst, ...incs];
  const oneSourceMs = median(oneSource.map((m) => m.tookMs));
  const fourPerSourceMs = median(r.four.map((m) => m.tookMs / 4));
  const peak = [...r.peaks].sort((a, b) => b.kib - a.kib)[0] ?? { what: "?", kib: 0 };
  // Cross-check of the explanation: trees are rewritten exactly when st_dev moved.
  const devMoved = r.devIds.slice(1).map((d, k) => d !== r.devIds[k]);
  const mismatches = incs.filter((m, k) => treesRewritten(m) !== devMoved[k]).length;
  const devLine = incs
    .map((m, k) => `${r.devIds[k + 1] ?? "?"}${treesRewritten(m) ? "*" : ""}`)
    .join(", ");
  const totalBytes = specs.reduce((n, s) => n + s.size, 0);
  const dirs = new Set(specs.flatMap((s) => ancestors(dirname(s.path)))).size + 1;

  const lines = [
    scale.quick ? "**QUICK RUN (`--quick`): the figures below mean nothing.**\n" : "",
    `Tree: ${specs.length} files (${specs.filter((s) => s.text).length} compressible text), ${dirs} directories, ${(totalBytes / GiB).toFixed(2)} GiB, seed ${SEED}; generated in ${sec(w.genMs)}. Every measured command starts after \`sync; echo 3 > /proc/sys/vm/drop_caches\`. Each incremental phase runs ${scale.repeat} times per side; the table shows medians. snapback runs without the machine's NODE_EXTRA_CA_CERTS, as its systemd units do (scripts/bench-env.ts).`,
    "",
    "| measure | snapback | baseline | ratio | target | met? |",
    "|---|---|---|---|---|---|",
    `| 1. first backup vs bare \`restic backup\` of the live path | ${sec(r.snapFirst.ms)} | ${sec(r.bareFirst.ms)} | ${ratio(r.snapFirst.ms, r.bareFirst.ms)} (snapback/bare) | — | — |`,
    incRow("2. unchanged incremental vs bare restic incremental on the live path, all runs", incs),
    incRow("2a. … runs whose snapshot kept the parent's device id", kept),
    incRow(
      "2b. … runs whose snapshot got a new device id (restic 0.14 rewrites every tree)",
      moved,
    ),
    `| 3. naive snapshot-path incremental vs snapback incremental | ${sec(snapIncMs)} | ${sec(naiveIncMs)} | ${ratio(naiveIncMs, snapIncMs)} (naive/snapback) | — | — |`,
    `| 4a. snapshot step per btrfs source, 1 source (\`took_ms\`, median of ${oneSource.length}) | ${oneSourceMs.toFixed(1)} ms | — | — | ≤ 100 ms | ${met(oneSourceMs <= 100)} |`,
    `| 4b. snapshot step per btrfs source, 4 sources in one plan (\`took_ms\`/4, median of ${r.four.length}) | ${fourPerSourceMs.toFixed(1)} ms | — | — | ≤ 100 ms | ${met(fourPerSourceMs <= 100)} |`,
    `| 4c. snapback peak RSS (node process only, VmHWM) | ${(peak.kib / 1024).toFixed(1)} MiB (${peak.what}) | — | — | ≤ 150 MB | ${met(peak.kib * 1024 <= 150e6)} |`,
    "",
    "What restic reported (last run of each kind):",
    "",
    "| run | files new | files changed | files unmodified | dirs new | dirs changed | dirs unmodified | data added | restic's own time | whole command |",
    "|---|---|---|---|---|---|---|---|---|---|",
    countsRow("snapback first", r.snapFirst),
    countsRow("bare restic first", r.bareFirst),
    ...(kept.length > 0
      ? [countsRow("snapback incremental, device id kept", last(kept, r.snapFirst))]
      : []),
    ...(moved.length > 0
      ? [countsRow("snapback incremental, new device id", last(moved, r.snapFirst))]
      : []),
    countsRow("bare restic incremental", last(r.bareInc, r.bareFirst)),
    countsRow("naive first (snapshot path)", r.naiveFirst),
    countsRow("naive incremental (new snapshot path)", last(r.naiveInc, r.naiveFirst)),
    countsRow("snapback, 4 sources", last(r.four, r.fourFirst)),
    "",
    "Where the time goes (medians; phases split by when snapback's `--json` events arrive):",
    "",
    "| run | whole command | start → `snapshots` event (node start, config, plan, repository open, snapshot) | `snapshots` → `summary` (view, restic start + repository open + backup, snapshot id lookup) | of which restic's own reported duration | `summary` → `result` (restic's exit, snapshot removal, journal) | `result` → exit (history, notifications, metrics) |",
    "|---|---|---|---|---|---|---|",
    breakdownRow("snapback first", [r.snapFirst]),
    ...(kept.length > 0 ? [breakdownRow("snapback incremental, device id kept (2a)", kept)] : []),
    ...(moved.length > 0 ? [breakdownRow("snapback incremental, new device id (2b)", moved)] : []),
    breakdownRow("snapback, 4 sources", r.four),
    `| bare restic incremental | ${sec(bareIncMs)} | — | — | ${resticOwn(r.bareInc)} | — | — |`,
    `| naive incremental | ${sec(naiveIncMs)} | — | — | ${resticOwn(r.naiveInc)} | — | — |`,
    "",
    "Individual runs (seconds): " +
      [
        `snapback incremental ${secs(r.snapInc)}`,
        `snapback incremental with a new device id forced ${secs(r.snapIncNewDev)}`,
        `bare incremental ${secs(r.bareInc)}`,
        `naive first ${secs([r.naiveFirst])}`,
        `naive incremental ${secs(r.naiveInc)}`,
        `snapshot took_ms 1 source ${oneSource.map((m) => m.tookMs.toFixed(0)).join(", ")}`,
        `4 sources ${r.four.map((m) => m.tookMs.toFixed(0)).join(", ")} (skew_ms ${r.four.map((m) => m.skewMs.toFixed(0)).join(", ")})`,
        `peak RSS per run (MiB) ${r.peaks.map((p) => (p.kib / 1024).toFixed(0)).join(", ")}`,
      ].join("; ") +
      ".",
    "",
    `Device id of ${w.data} as restic recorded it (restic 0.14 stores it in every node), first backup then each incremental in run order (\\* = restic rewrote every tree): ${r.devIds[0] ?? "?"}; ${devLine}. ${mismatches === 0 ? "Trees were rewritten exactly in the runs whose device id differed from the parent's." : `**${mismatches} run(s) do not fit that explanation.**`} Half the incrementals force a new device id by holding one more subvolume open; the others get whatever number is free.`,
    "",
    `One more repository open (\`restic cat config\`, warm, median of 3): ${sec(r.repoOpenMs)}.`,
    "",
    `Starting from an empty page cache, doing nothing (median of 3): \`node -e 0\` ${sec(r.coldStarts.node)}, \`snapback --version\` ${sec(r.coldStarts.snapback)}, \`restic version\` ${sec(r.coldStarts.restic)}. Every measured command above starts that way; node's binary stays cached all the same, because the bench is itself a node process (from cron, \`node -e 0\` after \`drop_caches\` pays the full read).`,
    "",
    "Machine:",
    "",
    "| | |",
    "|---|---|",
    ...machine.map(([k, v]) => `| ${k} | ${v} |`),
    `| load average at end | ${loadavg()
      .map((l) => l.toFixed(2))
      .join(", ")} |`,
    "",
  ];
  return lines.join("\n");
}

// ---------------------------------------------------------------- main

const SECTIONS = ["restic", "ignore", "replication", "btrbk", "serve"] as const;
type Section = (typeof SECTIONS)[number];

/** `--sections=restic,btrbk` runs only those parts (default: all). */
function parseSections(argv: string[]): Set<Section> {
  const arg = argv.find((a) => a.startsWith("--sections="));
  if (arg === undefined) return new Set(SECTIONS);
  const names = arg.slice("--sections=".length).split(",");
  for (const n of names) {
    if (!(SECTIONS as readonly string[]).includes(n)) {
      throw new BenchError(`--sections: unknown section "${n}" (known: ${SECTIONS.join(", ")})`);
    }
  }
  return new Set(names as Section[]);
}

/**
 * The restic binaries to measure: the system's (Debian 12: 0.14) and 0.18 — from
 * $RESTIC_018, else from the project cache `make deps` fills from Debian 13. A missing 0.18
 * is reported as skipped (only here: the tests never skip).
 */
async function resticBinaries(): Promise<{ label: string; path?: string; why?: string }[]> {
  const system = (await run("sh", ["-c", "command -v restic"], { reject: false })).stdout.trim();
  const cached = join(import.meta.dirname, "..", ".cache/debian-trixie/root/usr/bin/restic");
  const r018 = process.env["RESTIC_018"] ?? (existsSync(cached) ? cached : undefined);
  return [
    system ? { label: "system", path: system } : { label: "system", why: "no restic on PATH" },
    r018 === undefined
      ? {
          label: "0.18",
          why: `no restic 0.18: set RESTIC_018=/path/to/restic or run make deps (${cached})`,
        }
      : { label: "0.18", path: r018 },
  ];
}

/** Puts `binary` first on PATH as `restic` for this process and everything it starts. */
async function resticOnPath(binary: string): Promise<AsyncDisposable> {
  const dir = await mkdtemp(join(tmpdir(), "snapback-bench-restic-"));
  await symlink(binary, join(dir, "restic"));
  const before = process.env["PATH"];
  process.env["PATH"] = `${dir}:${before ?? ""}`;
  return {
    async [Symbol.asyncDispose]() {
      process.env["PATH"] = before;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function main(signal: AbortSignal): Promise<string> {
  const scale = parseScale(process.argv);
  const sections = parseSections(process.argv);
  const cli = join(import.meta.dirname, "snapback.js");
  if (process.argv.includes("--serve-only")) return serveReport(cli);
  await preflight(scale, cli);
  const out: string[] = [];
  if (sections.has("restic")) {
    for (const b of await resticBinaries()) {
      if (b.path === undefined) {
        out.push(`## restic ${b.label}\n\nskipped: ${b.why ?? ""}\n`);
        continue;
      }
      await using _path = await resticOnPath(b.path);
      const version = await firstLine("restic", ["version"]);
      say(`measuring with ${version} (${b.path})`);
      const machine = await describeMachine(tmpdir());
      await using stack = new DeferStack((what, e) =>
        say(`cleanup: ${what} failed: ${e instanceof Error ? e.message : String(e)}`),
      );
      const world = await setUp(scale, cli, signal, stack);
      const results = await measure(world, stack);
      out.push(`## ${version}\n\n${report(world, results, machine)}`);
      await stack[Symbol.asyncDispose]();
    }
  }
  if (sections.has("ignore")) {
    out.push(
      await benchIgnoreFiles({
        files: scale.quick ? 5_000 : 200_000,
        ignoreFiles: 40,
        repeat: scale.quick ? 1 : 3,
        say,
      }),
    );
  }
  if (sections.has("replication")) out.push(await replicationReport(scale.quick));
  if (sections.has("btrbk")) {
    const dir = await mkdtemp(join(tmpdir(), "snapback-bench-btrbk-"));
    try {
      out.push(
        await benchBtrbk({
          cli,
          dir,
          sizeMiB: scale.quick ? 64 : 285,
          changeMiB: scale.quick ? 16 : 64,
          repeat: scale.quick ? 2 : 6,
          say,
        }),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  if (sections.has("serve")) out.push(await serveReport(cli));
  return out.join("\n");
}

/** Issue 12: the daemon over a long history (scripts/bench-serve.ts). */
async function serveReport(cli: string): Promise<string> {
  say("serve: a daemon over 2,000 runs");
  let pages: { dashboardMs: number[]; historyMs: number[] } | undefined;
  const r = await benchServe({
    cli,
    // Issue 13: the same daemon in Chromium (a user added for the browser).
    also: async ({ url, config }) => {
      const password = "bench-browser-password";
      await run(
        process.execPath,
        [cli, "--config", config, "user", "add", "web", "--role", "viewer"],
        {
          input: `${password}\n`,
        },
      );
      say("webui: first paint of the dashboard and the history in Chromium");
      pages = await benchPages(url, "web", password);
    },
  });
  const tree = await benchTree({ cli, entries: 10_000, rounds: 5, say });
  const sizes = await bundleSizes(join(dirname(cli), "web"));
  return [
    `### snapback serve (${r.runs} runs, ${r.snapshots} snapshots in the history)`,
    "",
    "| measure | value | target | met? |",
    "|---|---|---|---|",
    `| GET /api/runs?limit=50, p95 of ${r.requests} (p50) | ${r.runsP95Ms.toFixed(1)} ms (${r.runsP50Ms.toFixed(1)} ms) | ≤ 50 ms | ${met(r.runsP95Ms <= 50)} |`,
    `| GET /api/plans, p95 of ${r.requests} (p50) | ${r.plansP95Ms.toFixed(1)} ms (${r.plansP50Ms.toFixed(1)} ms) | ≤ 50 ms | ${met(r.plansP95Ms <= 50)} |`,
    `| idle RSS | ${r.idleRssMiB.toFixed(0)} MiB | ≤ 120 MiB | ${met(r.idleRssMiB <= 120)} |`,
    `| idle CPU over ${r.idleSeconds} s | ${r.idleCpuPercent.toFixed(2)} % | ~0 | ${met(r.idleCpuPercent < 0.5)} |`,
    `| history write by another process → SSE client, p95 of ${r.eventSamples} (p50) | ${r.eventP95Ms.toFixed(0)} ms (${r.eventP50Ms.toFixed(0)} ms) | ≤ 1 s with the ≤ 1/s progress throttle | ${met(r.eventP95Ms < 1000)} |`,
    "",
    `### web UI (same daemon; Debian's Chromium, ${pages?.dashboardMs.length ?? 0} fresh loads each)`,
    "",
    "| measure | value | target | met? |",
    "|---|---|---|---|",
    `| dashboard first paint with every plan's 30-day strip, median (max) | ${med(pages?.dashboardMs)} ms (${max(pages?.dashboardMs)} ms) | ≤ 1 s | ${met(Math.max(...(pages?.dashboardMs ?? [Infinity])) <= 1000)} |`,
    `| history first paint (50 runs), median (max) | ${med(pages?.historyMs)} ms (${max(pages?.historyMs)} ms) | ≤ 1 s | ${met(Math.max(...(pages?.historyMs ?? [Infinity])) <= 1000)} |`,
    `| one level of a 10,000-entry directory, restore point on the source (read from disk), median (max) | ${med(tree.localMs)} ms (${max(tree.localMs)} ms) | ≤ 1 s | ${met(Math.max(...tree.localMs) <= 1000)} |`,
    `| the same level of the restic backup (restic ls), median (max) | ${med(tree.resticMs)} ms (${max(tree.resticMs)} ms) | report | |`,
    `| JavaScript shipped | ${sizes.jsBytes} B (${sizes.jsGzipBytes} B gzipped) | ≤ 150 KB gzipped | ${met(sizes.jsGzipBytes <= 150_000)} |`,
    `| CSS shipped | ${sizes.cssBytes} B (${sizes.cssGzipBytes} B gzipped) | | |`,
    "",
  ].join("\n");
}

/**
 * Issue 6: btrfs incremental replication against a bare `btrfs send -p … | btrfs receive` of
 * the same snapshots, between two real loop filesystems, and an incremental replication of a
 * small change to a large subvolume.
 */
async function replicationReport(quick: boolean): Promise<string> {
  say("replication: two btrfs filesystems");
  await using src = await createLoopBtrfs(quick ? 1024 : 3072, "snapback-bench-src");
  await using dst = await createLoopBtrfs(quick ? 1024 : 3072, "snapback-bench-dst");
  const subvolume = await src.subvolume("data");
  const targetRoot = join(dst.mountpoint, "snapback");
  const bareTargetRoot = join(dst.mountpoint, "bare");
  await mkdir(targetRoot);
  await mkdir(bareTargetRoot);
  const r = await benchBtrfsReplication({
    subvolume,
    targetRoot,
    bareTargetRoot,
    changeBytes: (quick ? 16 : 256) * MiB,
    repeat: 3,
    manyFiles: quick ? 500 : 20_000,
  });
  return [
    "### Replication (btrfs send/receive)",
    "",
    "| measure | snapback | bare pipeline | ratio | target | met? |",
    "|---|---|---|---|---|---|",
    `| incremental of ${mib(r.changeBytes)} (median of 3) | ${r.snapbackSeconds.toFixed(2)} s (${r.snapbackMiBps.toFixed(0)} MiB/s) | ${r.bareSeconds.toFixed(2)} s (${r.bareMiBps.toFixed(0)} MiB/s) | ${r.throughputRatio.toFixed(2)} (throughput) | ≥ 0.95 | ${met(r.throughputRatio >= 0.95)} |`,
    `| the transfer alone | ${r.snapbackTransferSeconds.toFixed(2)} s | ${r.bareSeconds.toFixed(2)} s | ${(r.bareSeconds / r.snapbackTransferSeconds).toFixed(2)} | — | — |`,
    `| 4 KiB change to a subvolume of ${quick ? 500 : 20_000} files + the data above | ${r.smallChangeMs.toFixed(0)} ms (transfer ${r.smallChangeTransferMs.toFixed(0)} ms) | — | — | — | — |`,
    "",
  ].join("\n");
}

const controller = new AbortController();
const onSignal = (sig: NodeJS.Signals): void => {
  process.stderr.write(`bench: ${sig}: stopping and cleaning up\n`);
  controller.abort();
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);
try {
  process.stdout.write(`${await main(controller.signal)}\n`);
} catch (e) {
  // A failing tool is reported by what it said; only a bug in the bench gets its stack.
  const message = controller.signal.aborted
    ? "interrupted; everything it created is removed"
    : e instanceof BenchError
      ? e.message
      : e instanceof ProcessError
        ? `${e.message}\n${e.stderrTail(8)}`
        : e instanceof Error
          ? (e.stack ?? e.message)
          : String(e);
  process.stderr.write(`bench: ${message}\n`);
  process.exitCode = controller.signal.aborted ? 130 : 1;
} finally {
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
}

function med(xs: number[] | undefined): string {
  if (!xs || xs.length === 0) return "–";
  const s = [...xs].sort((a, b) => a - b);
  return (s[Math.floor(s.length / 2)] ?? 0).toFixed(0);
}

function max(xs: number[] | undefined): string {
  return xs && xs.length > 0 ? Math.max(...xs).toFixed(0) : "–";
}
