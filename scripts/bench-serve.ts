import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { run } from "../src/exec/index.js";
import { HISTORY_FILE, SqliteHistoryStore } from "../src/history/index.js";

/**
 * `make bench`, issue 12: a real `snapback serve` over a history of 2,000 runs holding 1,000
 * snapshots. Request latency of the two busiest routes, idle memory and CPU, and how fast an
 * event written to the history by another process (a CLI run) reaches an SSE client.
 */
export interface ServeBenchResult {
  runs: number;
  snapshots: number;
  requests: number;
  runsP50Ms: number;
  runsP95Ms: number;
  plansP50Ms: number;
  plansP95Ms: number;
  idleRssMiB: number;
  idleCpuPercent: number;
  idleSeconds: number;
  eventP50Ms: number;
  eventP95Ms: number;
  eventSamples: number;
}

const PLANS = 20;

export async function benchServe(options: {
  cli: string;
  runs?: number;
  requests?: number;
  idleSeconds?: number;
  /** More measures against the same daemon (the web UI's), given its URL and config. */
  also?: (daemon: { url: string; config: string }) => Promise<void>;
}): Promise<ServeBenchResult> {
  const runs = options.runs ?? 2000;
  const requests = options.requests ?? 300;
  const idleSeconds = options.idleSeconds ?? 10;
  const dir = await mkdtemp(join(tmpdir(), "snapback-bench-serve-"));
  const abort = new AbortController();
  let exited: Promise<unknown> = Promise.resolve();
  try {
    const state = join(dir, "state");
    const config = join(dir, "snapback.toml");
    const lines = [
      `state_dir = "${state}"`,
      "[repositories.r]",
      'engine = "restic"',
      `url = "${join(dir, "repo")}"`,
      `password_file = "${join(dir, "pw")}"`,
    ];
    for (let p = 0; p < PLANS; p++)
      lines.push(
        `[plans.p${p}]`,
        `sources = ["/srv/p${p}"]`,
        'repositories = ["r"]',
        'schedule = "daily"',
      );
    await writeFile(config, `${lines.join("\n")}\n`, { mode: 0o600 });
    await writeFile(join(dir, "pw"), "bench-password\n", { mode: 0o600 });
    await chmod(config, 0o600);

    // The history: runs spread over ~5 years, every other one with a snapshot.
    const store = new SqliteHistoryStore(join(state, HISTORY_FILE));
    let snapshots = 0;
    const t0 = Date.UTC(2021, 0, 1);
    for (let i = 0; i < runs; i++) {
      const runId = `bench-${String(i).padStart(5, "0")}`;
      const plan = `p${i % PLANS}`;
      store.startRun({
        runId,
        plan,
        repositories: ["r"],
        startedAt: new Date(t0 + i * 21_600_000),
        pid: 1,
        pidStartTime: "x",
      });
      const snap = i % 2 === 0;
      if (snap) snapshots++;
      store.appendEvent(runId, plan, { type: "start" });
      store.finishRun(runId, {
        status: i % 97 === 0 ? "failed" : "success",
        endedAt: new Date(t0 + i * 21_600_000 + 300_000),
        snapshotIds: snap ? { r: `${i.toString(16).padStart(8, "0")}${"0".repeat(56)}` } : {},
        summaries: {
          r: {
            filesNew: i,
            filesChanged: 3,
            filesUnmodified: 60_000,
            dataAdded: 1e6,
            durationS: 42,
          },
        },
        warnings: [],
        logTail: ["line one", "line two"],
      });
    }

    const token = (
      await run(process.execPath, [options.cli, "--config", config, "token", "create", "bench"])
    ).stdout.trim();
    let pid = 0;
    let ready!: (url: string) => void;
    const listening = new Promise<string>((resolve) => (ready = resolve));
    exited = run(
      process.execPath,
      [options.cli, "--config", config, "serve", "--listen", "127.0.0.1:0"],
      {
        reject: false,
        signal: abort.signal,
        onSpawn: (c) => (pid = c.pid ?? 0),
        onStderrLine: (l) => {
          const m = /listening on (\S+)/.exec(l);
          if (m?.[1]) ready(m[1]);
        },
      },
    );
    const url = await listening;
    const auth = { authorization: `Bearer ${token}` };
    const time = async (path: string): Promise<number[]> => {
      const ms: number[] = [];
      for (let i = 0; i < requests; i++) {
        const t = performance.now();
        const res = await fetch(new URL(path, url), { headers: auth });
        await res.arrayBuffer();
        ms.push(performance.now() - t);
        if (!res.ok) throw new Error(`GET ${path}: ${res.status}`);
      }
      return ms;
    };
    // Warm-up: the first requests pay for JIT and the token check.
    await time("api/plans");
    const runsMs = await time("api/runs?limit=50");
    const plansMs = await time("api/plans");

    // Idle: nothing runs, nobody asks; CPU ticks and RSS of the daemon over a while.
    await new Promise((r) => setTimeout(r, 2000));
    const ticks = (): number => {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // utime + stime, fields 14 and 15.
      return Number(f[11]) + Number(f[12]);
    };
    const before = ticks();
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const cpuTicks = ticks() - before;
    const rssKiB = Number(
      /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0,
    );

    // Events: another process's history write → the SSE client.
    const sse = new AbortController();
    const res = await fetch(new URL("api/events", url), { headers: auth, signal: sse.signal });
    const body = res.body as unknown as AsyncIterable<Uint8Array>;
    const sent = new Map<string, number>();
    const latencies: number[] = [];
    const samples = 20;
    const writer = new SqliteHistoryStore(join(state, HISTORY_FILE));
    const reading = (async () => {
      const dec = new TextDecoder();
      let buf = "";
      try {
        for await (const chunk of body) {
          buf += dec.decode(chunk, { stream: true });
          for (const m of buf.matchAll(/"mark":"(m\d+)"/g)) {
            const t = sent.get(m[1] ?? "");
            if (t !== undefined) {
              latencies.push(performance.now() - t);
              sent.delete(m[1] ?? "");
            }
          }
          buf = buf.slice(buf.lastIndexOf("\n") + 1);
          if (latencies.length >= samples) break;
        }
      } catch {
        // Aborted.
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < samples; i++) {
      sent.set(`m${i}`, performance.now());
      writer.appendEvent("cli-run", "p0", { type: "progress", mark: `m${i}` } as { type: string });
      await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.race([reading, new Promise((r) => setTimeout(r, 5000))]);
    sse.abort();
    await options.also?.({ url, config });
    writer.close();
    store.close();

    const clk = 100; // USER_HZ
    return {
      runs,
      snapshots,
      requests,
      runsP50Ms: pct(runsMs, 50),
      runsP95Ms: pct(runsMs, 95),
      plansP50Ms: pct(plansMs, 50),
      plansP95Ms: pct(plansMs, 95),
      idleRssMiB: rssKiB / 1024,
      idleCpuPercent: (cpuTicks / clk / idleSeconds) * 100,
      idleSeconds,
      eventP50Ms: pct(latencies, 50),
      eventP95Ms: pct(latencies, 95),
      eventSamples: latencies.length,
    };
  } finally {
    abort.abort();
    await exited;
    await rm(dir, { recursive: true, force: true });
  }
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN;
}
