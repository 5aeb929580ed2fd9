import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { SnapbackError } from "../errors.js";
import { captureStderr } from "../notify/test-support.js";
import { parse } from "./exposition.js";
import { writeMetrics } from "./textfile.js";
import { run, summary, validateExposition } from "./test-support.js";

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "snapback-test-metrics-"));
  file = join(dir, "snapback.prom");
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const T1 = new Date("2026-11-22T02:40:00Z");
const T2 = new Date("2026-11-23T02:40:00Z");
const T3 = new Date("2026-11-24T02:40:00Z");

async function content(): Promise<string> {
  const text = await readFile(file, "utf8");
  expect(await validateExposition(text)).toEqual([]);
  return text;
}

/** The sample lines of one plan, so other plans' can be compared across writes. */
function linesOf(text: string, plan: string): string[] {
  return text.split("\n").filter((l) => l.includes(`plan="${plan}"`));
}

describe("writeMetrics", () => {
  test("writes valid Prometheus text, mode 0644 even under umask 077, nothing else left", async () => {
    const old = process.umask(0o077);
    try {
      await writeMetrics(file, run("home", "success", ["local", "offsite"], { finishedAt: T1 }));
    } finally {
      process.umask(old);
    }
    const text = await content();
    const t1 = T1.getTime() / 1000;
    for (const line of [
      `snapback_last_run_timestamp_seconds{plan="home"} ${t1}`,
      `snapback_last_success_timestamp_seconds{plan="home"} ${t1}`,
      `snapback_last_run_duration_seconds{plan="home"} 61.5`,
      `snapback_last_run_status{plan="home",status="success"} 1`,
      `snapback_last_run_status{plan="home",status="failed"} 0`,
      `snapback_last_run_status{plan="home",status="partial"} 0`,
      `snapback_last_run_status{plan="home",status="interrupted"} 0`,
      `snapback_last_run_snapshot_skew_seconds{plan="home"} 0.25`,
      `snapback_last_run_warnings{plan="home"} 0`,
      `snapback_repository_last_run_success{plan="home",repository="offsite"} 1`,
      `snapback_repository_last_success_timestamp_seconds{plan="home",repository="local"} ${t1}`,
      `snapback_backup_duration_seconds{plan="home",repository="local"} 42.5`,
      `snapback_backup_data_added_bytes{plan="home",repository="local"} 1234567`,
      `snapback_backup_files_new{plan="home",repository="local"} 12`,
      `snapback_backup_files_changed{plan="home",repository="local"} 3`,
      `snapback_backup_files_unmodified{plan="home",repository="local"} 1000`,
      `snapback_backup_processed_bytes{plan="home",repository="offsite"} 987654321`,
      `snapback_backup_errors{plan="home",repository="offsite"} 0`,
    ]) {
      expect(text.split("\n")).toContain(line);
    }
    expect(text).toContain("# HELP snapback_last_run_status 1 for the status of the last run");
    expect(text).toContain("# TYPE snapback_last_run_status gauge\n");
    expect((await stat(file)).mode & 0o777).toBe(0o644);
    expect(await readdir(dir)).toEqual(["snapback.prom"]);
  });

  test("other plans are kept; a plan that runs again replaces its own samples", async () => {
    await writeMetrics(file, run("home", "success", ["local"], { finishedAt: T1 }));
    const homeLines = linesOf(await content(), "home");
    await writeMetrics(file, run("db", "success", ["offsite"], { finishedAt: T2 }));
    const both = await content();
    expect(linesOf(both, "home")).toEqual(homeLines);
    expect(linesOf(both, "db").length).toBeGreaterThan(10);

    await writeMetrics(
      file,
      run("db", "partial", ["offsite"], {
        finishedAt: T3,
        summaries: [summary("db", "offsite", { error_count: 4 })],
      }),
    );
    const after = await content();
    expect(linesOf(after, "home")).toEqual(homeLines);
    const db = linesOf(after, "db");
    expect(db).toContain(`snapback_last_run_status{plan="db",status="partial"} 1`);
    expect(db).toContain(`snapback_last_run_status{plan="db",status="success"} 0`);
    expect(db).toContain(`snapback_backup_errors{plan="db",repository="offsite"} 4`);
    expect(db).toContain(`snapback_last_run_timestamp_seconds{plan="db"} ${T3.getTime() / 1000}`);
    // Partial is not success: the last success stays at the earlier run.
    expect(db).toContain(
      `snapback_last_success_timestamp_seconds{plan="db"} ${T2.getTime() / 1000}`,
    );
    expect(db).toContain(
      `snapback_repository_last_success_timestamp_seconds{plan="db",repository="offsite"} ${T2.getTime() / 1000}`,
    );
  });

  test("a failed run keeps when things last succeeded and drops stale figures", async () => {
    await writeMetrics(file, run("home", "success", ["local", "offsite"], { finishedAt: T1 }));
    await writeMetrics(
      file,
      run("home", "failed", ["local", "offsite"], {
        failedRepos: ["offsite"],
        finishedAt: T2,
        skewMs: null,
      }),
    );
    const lines = (await content()).split("\n");
    const t1 = T1.getTime() / 1000;
    const t2 = T2.getTime() / 1000;
    expect(lines).toContain(`snapback_last_run_status{plan="home",status="failed"} 1`);
    expect(lines).toContain(`snapback_last_run_timestamp_seconds{plan="home"} ${t2}`);
    expect(lines).toContain(`snapback_last_success_timestamp_seconds{plan="home"} ${t1}`);
    expect(lines).toContain(
      `snapback_repository_last_run_success{plan="home",repository="offsite"} 0`,
    );
    expect(lines).toContain(
      `snapback_repository_last_run_success{plan="home",repository="local"} 1`,
    );
    expect(lines).toContain(
      `snapback_repository_last_success_timestamp_seconds{plan="home",repository="offsite"} ${t1}`,
    );
    expect(lines).toContain(
      `snapback_repository_last_success_timestamp_seconds{plan="home",repository="local"} ${t2}`,
    );
    expect(
      lines.filter((l) => l.includes('repository="offsite"') && l.startsWith("snapback_backup_")),
    ).toEqual([]);
    expect(lines.filter((l) => l.startsWith("snapback_last_run_snapshot_skew_seconds"))).toEqual(
      [],
    );
  });

  test("label values are escaped and survive being read back", async () => {
    const odd = 'we"ird\\repo\nname';
    await writeMetrics(file, run("home", "success", [odd], { finishedAt: T1 }));
    await writeMetrics(file, run("other", "success", ["r"], { finishedAt: T2 }));
    const text = await content();
    expect(text).toContain(
      `snapback_backup_files_new{plan="home",repository="we\\"ird\\\\repo\\nname"} 12\n`,
    );
    const repos = new Set(parse(text).map((s) => s.labels["repository"]));
    expect(repos).toContain(odd);
  });

  test("one call can record several plans", async () => {
    await writeMetrics(file, [run("a", "success", ["r"]), run("b", "interrupted", ["r"])], T1);
    const text = await content();
    expect(text).toContain(`snapback_last_run_timestamp_seconds{plan="a"} ${T1.getTime() / 1000}`);
    expect(text).toContain(`snapback_last_run_status{plan="b",status="interrupted"} 1`);
  });

  test("plans finishing at the same time all end up in the file", async () => {
    const plans = ["p1", "p2", "p3", "p4", "p5", "p6"];
    await Promise.all(
      plans.map((p) => writeMetrics(file, run(p, "success", ["r"], { finishedAt: T1 }))),
    );
    const text = await content();
    for (const p of plans) expect(linesOf(text, p).length).toBeGreaterThan(10);
    expect(await readdir(dir)).toEqual(["snapback.prom"]);
  });

  test("a file that is not ours is started afresh with a warning", async () => {
    await writeFile(file, "this is { not prometheus\n");
    using stderr = captureStderr();
    await writeMetrics(file, run("home", "success", ["r"], { finishedAt: T1 }));
    expect(stderr.text()).toContain(
      `warning: metrics: ${file} is not in the expected format (line 1: not a sample)`,
    );
    expect(await content()).toContain(`snapback_last_run_status{plan="home",status="success"} 1`);
  });

  test("metrics snapback does not write are dropped, unknown to the merge", async () => {
    await writeFile(
      file,
      '# HELP old_metric gone\n# TYPE old_metric gauge\nold_metric{plan="x"} 1\n',
    );
    await writeMetrics(file, run("home", "success", ["r"], { finishedAt: T1 }));
    expect(await content()).not.toContain("old_metric");
  });

  test("a temp file left by a killed writer is removed", async () => {
    const stale = join(dir, ".snapback.prom.999999.deadbeef.tmp");
    await writeFile(stale, "half a fi");
    await writeFile(join(dir, "other.prom"), "# someone else's\n");
    await writeMetrics(file, run("home", "success", ["r"], { finishedAt: T1 }));
    expect((await readdir(dir)).sort()).toEqual(["other.prom", "snapback.prom"]);
  });

  test("a missing directory is a clear error naming it", async () => {
    const missing = join(dir, "nope", "snapback.prom");
    await expect(writeMetrics(missing, run("home", "success", ["r"]))).rejects.toThrow(
      SnapbackError,
    );
    await expect(writeMetrics(missing, run("home", "success", ["r"]))).rejects.toThrow(
      `metrics.textfile: directory ${join(dir, "nope")} does not exist`,
    );
  });

  test("the file is replaced atomically: a concurrent reader never sees a partial file", async () => {
    // A big file (400 plans) makes a non-atomic write observable as a short read.
    const many = Array.from({ length: 400 }, (_, i) =>
      run(`plan${i}`, "success", ["local", "offsite"], { finishedAt: T1 }),
    );
    await writeMetrics(file, many);
    const size = (await stat(file)).size;
    expect(size).toBeGreaterThan(500_000);

    const stop = new Int32Array(new SharedArrayBuffer(4));
    const reader = new Worker(READER, {
      eval: true,
      workerData: { path: file, stop: stop.buffer },
    });
    const message = (): Promise<unknown> =>
      new Promise((resolve, reject) => {
        reader.once("message", resolve);
        reader.once("error", reject);
      });
    let done: Promise<unknown> | undefined;
    try {
      // Handshake: the writes start only once the reader has read the file once. Its report
      // comes only after `stop`, so listening for it now misses nothing.
      expect(await message()).toBe("ready");
      done = message();
      for (let i = 0; i < 40; i++) {
        await writeMetrics(
          file,
          run(`plan${i % 7}`, i % 2 ? "failed" : "success", ["local"], { finishedAt: T2 }),
        );
      }
    } finally {
      Atomics.store(stop, 0, 1);
    }
    const seen = (await done) as ReaderReport;
    await reader.terminate();
    expect(seen.reads).toBeGreaterThan(0);
    expect(seen.missing).toBe(0);
    expect(seen.incomplete).toEqual([]);
    for (const text of seen.samples) expect(await validateExposition(text)).toEqual([]);
    expect((await readdir(dir)).sort()).toEqual(["snapback.prom"]);
  });
});

interface ReaderReport {
  reads: number;
  missing: number;
  incomplete: number[];
  samples: string[];
}

// Runs in a worker thread: reads the file in a tight loop, in parallel with the writes. A
// complete file starts with the first family's HELP and ends with a sample of the last one.
const READER = `
const { workerData, parentPort } = require("node:worker_threads");
const fs = require("node:fs");
const stop = new Int32Array(workerData.stop);
let reads = 0, missing = 0;
const incomplete = [], samples = [];
fs.readFileSync(workerData.path, "utf8");
parentPort.postMessage("ready");
while (Atomics.load(stop, 0) === 0) {
  let text;
  try { text = fs.readFileSync(workerData.path, "utf8"); } catch { missing++; continue; }
  reads++;
  const last = text.slice(text.lastIndexOf("\\n", text.length - 2) + 1);
  if (!text.startsWith("# HELP snapback_last_run_timestamp_seconds ") || !text.endsWith("\\n") ||
      !last.startsWith("snapback_backup_errors{")) {
    if (incomplete.length < 10) incomplete.push(text.length);
  } else if (samples.length < 5 && reads % 7 === 0) samples.push(text);
}
parentPort.postMessage({ reads, missing, incomplete, samples });
`;
