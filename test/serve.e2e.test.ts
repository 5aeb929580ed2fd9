import { request as httpsRequest, type RequestOptions } from "node:https";
import { constants } from "node:fs";
import { chmod, mkdir, mkdtemp, open, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { run } from "../src/exec/index.js";
import { SqliteHistoryStore, HISTORY_FILE } from "../src/history/index.js";
import { CLI, createWorld, leftovers, type World } from "./fixtures/cli.js";
import { TEST_PASSWORD } from "./fixtures/restic.js";
import { heldConfig, holdBackups } from "./fixtures/held-backup.js";
import { startDaemon, type Daemon } from "./fixtures/serve.js";

/**
 * A world whose backups stop in the engine: its repository is reached through a gate that
 * holds restic's pack uploads (after it took its lock, on every restic version) until the gate
 * opens; restic meanwhile reports progress, so a signal or a cancel surely lands mid-run — a
 * handshake, not a data size.
 */
async function heldInEngine(w: World) {
  await writeFile(join(w.data, "hello.txt"), "hello");
  const gate = await holdBackups(w.repo.url);
  try {
    await w.writeConfig(heldConfig(w, gate, [w.data]));
  } catch (e) {
    await gate[Symbol.asyncDispose]();
    throw e;
  }
  return {
    gate,
    [Symbol.asyncDispose]: () => gate[Symbol.asyncDispose](),
  };
}

async function resticLocks(w: World): Promise<string[]> {
  return (await w.repo.restic(["list", "locks"])).split("\n").filter(Boolean);
}

/** No response body or event the test saw carries the repository password or the token. */
function expectNoSecrets(d: Daemon): void {
  for (const text of d.seen) {
    expect(text).not.toContain(TEST_PASSWORD);
    expect(text).not.toContain(d.token);
  }
}

async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

interface RunRow {
  run_id: string;
  plan: string;
  status: string;
  summaries: Record<string, { files_new: number }>;
}

/**
 * A CLI backup beside a daemon, held in its `before` hook until `release()`: it is surely still
 * running while the test looks (the hook says "ready" through a FIFO first).
 */
async function heldCliRun(w: World) {
  await writeFile(join(w.data, "f"), "x");
  const ready = join(w.dir, "ready.fifo");
  const gate = join(w.dir, "gate.fifo");
  await run("mkfifo", [ready, gate]);
  const hook = `[[plans.p.hooks]]\nwhen = "before"\nshell = 'echo ready > ${ready}; cat ${gate} > /dev/null'`;
  await w.writeConfig(`${w.basicConfig([w.data])}\n${hook}\n`);
  const d = await startDaemon(w);
  try {
    const events = await d.events();
    const cli = w.cli(["backup", "p"]);
    await readFile(ready, "utf8");
    const start = await events.waitFor((e) => e.type === "start" && e.plan === "p");
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      await writeFile(gate, "go\n");
    };
    return {
      d,
      events,
      cli,
      start,
      release,
      async [Symbol.asyncDispose]() {
        // Not released (cancelled, or the test failed): open the gate only if the hook still
        // reads it — a FIFO without a reader would block the writer forever.
        if (!released)
          await open(gate, constants.O_WRONLY | constants.O_NONBLOCK).then(
            (fd) => fd.write("go\n").finally(() => fd.close()),
            () => undefined,
          );
        await cli;
        await d[Symbol.asyncDispose]();
      },
    };
  } catch (e) {
    await d[Symbol.asyncDispose]();
    throw e;
  }
}

describe("snapback serve", () => {
  test("a backup started over HTTP is followed on /api/events to its result and listed in /api/runs", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "hello.txt"), "hello");
    await w.writeConfig(w.basicConfig([w.data]));
    await using d = await startDaemon(w);
    expect(await json(await fetch(new URL("healthz", d.url)))).toEqual({ ok: true });
    expect((await fetch(new URL("api/plans", d.url))).status).toBe(401);

    const events = await d.events();
    const res = await d.api("api/plans/p/backup", { method: "POST", body: "{}" });
    expect(res.status).toBe(202);
    const { run_id } = await json<{ run_id: string }>(res);
    const result = await events.waitFor((e) => e.type === "result" && e.run_id === run_id);
    expect(result.status).toBe("success");
    const types = events
      .all()
      .filter((e) => e.run_id === run_id)
      .map((e) => e.type);
    expect(types[0]).toBe("start");
    expect(types).toContain("summary");

    const runs = await json<RunRow[]>(await d.api("api/runs?limit=10"));
    expect(runs[0]).toMatchObject({ run_id, plan: "p", status: "success" });
    expect(runs[0]?.summaries["r"]?.files_new).toBe(1);
    const detail = await json<{ events: { type: string }[] }>(await d.api(`api/runs/${run_id}`));
    expect(detail.events.map((e) => e.type)).toContain("result");
    const plans = await json<{ name: string; last_run: { run_id: string } }[]>(
      await d.api("api/plans"),
    );
    expect(plans[0]?.last_run.run_id).toBe(run_id);
    for (const path of ["api/status", "api/config", "api/openapi.json", "metrics"])
      expect((await d.api(path)).status, path).toBe(200);
    expect(await leftovers(w)).toEqual([]);
    expectNoSecrets(d);
  });

  test("cancel of a running backup: interrupted, no snapshot, mount or restic lock left", async () => {
    await using w = await createWorld();
    await using _held = await heldInEngine(w);
    await using d = await startDaemon(w);
    const events = await d.events();
    const { run_id } = await json<{ run_id: string }>(
      await d.api("api/plans/p/backup", { method: "POST" }),
    );
    await events.waitFor((e) => e.type === "progress" && e.run_id === run_id);
    expect((await d.api(`api/runs/${run_id}/cancel`, { method: "POST" })).status).toBe(202);
    const result = await events.waitFor((e) => e.type === "result" && e.run_id === run_id);
    expect(result.status).toBe("interrupted");
    // The run unwinds (snapshots, mounts, journal, temp dir) before it reports its result.
    expect(await leftovers(w)).toEqual([]);
    expect(await resticLocks(w)).toEqual([]);
    expectNoSecrets(d);
  });

  test("a CLI backup started beside the daemon shows live in /api/events and /api/runs", async () => {
    await using w = await createWorld();
    await using held = await heldCliRun(w);
    const { d, start } = held;
    const runs = await json<RunRow[]>(await d.api("api/runs"));
    expect(runs[0]).toMatchObject({ run_id: start.run_id, status: "running" });
    await held.release();
    const result = await held.events.waitFor(
      (e) => e.type === "result" && e.run_id === start.run_id,
    );
    expect(result.status).toBe("success");
    expect((await held.cli).exitCode).toBe(0);
    // Finished: nothing to cancel any more.
    expect((await d.api(`api/runs/${start.run_id}/cancel`, { method: "POST" })).status).toBe(409);
    expectNoSecrets(d);
  });

  test("cancel of a CLI run through the API stops it like SIGTERM: interrupted, exit 130, nothing left", async () => {
    await using w = await createWorld();
    await using held = await heldCliRun(w);
    const { d, start } = held;
    expect((await d.api(`api/runs/${start.run_id}/cancel`, { method: "POST" })).status).toBe(202);
    const result = await held.events.waitFor(
      (e) => e.type === "result" && e.run_id === start.run_id,
    );
    expect(result.status).toBe("interrupted");
    expect((await held.cli).exitCode).toBe(130);
    expect(await w.repo.snapshots()).toEqual([]);
    expect(await leftovers(w)).toEqual([]);
  });

  test("SIGTERM to the daemon mid-run: the run is interrupted, cleanup done, exit 0", async () => {
    await using w = await createWorld();
    await using _held = await heldInEngine(w);
    const d = await startDaemon(w);
    try {
      const events = await d.events();
      const { run_id } = await json<{ run_id: string }>(
        await d.api("api/plans/p/backup", { method: "POST" }),
      );
      await events.waitFor((e) => e.type === "progress" && e.run_id === run_id);
      process.kill(d.pid, "SIGTERM");
      const result = await events.waitFor((e) => e.type === "result" && e.run_id === run_id);
      expect(result.status).toBe("interrupted");
      expect(await d.exited).toBe(0);
      expect(d.stderr()).toMatch(/stopped \(SIGTERM\)/);
      expect(await leftovers(w)).toEqual([]);
      expect(await resticLocks(w)).toEqual([]);
      const store = new SqliteHistoryStore(join(w.stateDir, HISTORY_FILE));
      try {
        expect(store.get(run_id)?.status).toBe("interrupted");
        expect(store.get(run_id)?.endedAt).not.toBeNull();
      } finally {
        store.close();
      }
    } finally {
      await d[Symbol.asyncDispose]();
    }
  });

  test("SIGKILL of the daemon and its run: the next start reclaims what the run left", async () => {
    await using w = await createWorld();
    await using _held = await heldInEngine(w);
    const d = await startDaemon(w);
    let runId: string;
    try {
      const events = await d.events();
      runId = (
        await json<{ run_id: string }>(await d.api("api/plans/p/backup", { method: "POST" }))
      ).run_id;
      await events.waitFor((e) => e.type === "progress" && e.run_id === runId);
      // Power loss, as far as snapback can tell: the daemon, its child and restic die at once.
      const child = Number(
        (await run("pgrep", ["-P", String(d.pid)])).stdout.trim().split("\n")[0],
      );
      process.kill(d.pid, "SIGKILL");
      process.kill(-child, "SIGKILL");
      expect(await d.exited).toBe(null);
      // Until the kernel has reaped them, the run's processes still count as alive.
      await run("pidwait", ["-g", String(child)], { reject: false });
    } finally {
      await d[Symbol.asyncDispose]();
    }
    const left = await leftovers(w);
    expect(left.some((l) => l.includes("snapback@p@"))).toBe(true);

    await using again = await startDaemon(w, { token: d.token });
    expect(again.stderr()).toMatch(/removed leftover btrfs subvolume .*snapback@p@/);
    expect(await leftovers(w)).toEqual([]);
    const runs = await json<RunRow[]>(await again.api("api/runs"));
    expect(runs[0]).toMatchObject({ run_id: runId, status: "interrupted" });
  });

  test("the scheduler runs a plan at its OnCalendar time, started by the daemon", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x");
    // Every 5 seconds: the first elapse is at most a few seconds ahead, however slow the start.
    await w.writeConfig(
      `${w.basicConfig([w.data], 'schedule = "*:*:0/5"')}\n[server]\nscheduler = true\n`,
    );
    await using d = await startDaemon(w);
    const plans = await json<{ name: string; next_run: string | null }[]>(await d.api("api/plans"));
    expect(plans[0]?.next_run).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d[05]\.000Z$/);
    const events = await d.events();
    const result = await events.waitFor((e) => e.type === "result" && e.plan === "p");
    expect(result.status).toBe("success");
    const runs = await json<(RunRow & { started_by: string })[]>(await d.api("api/runs"));
    expect(runs.find((r) => r.run_id === result.run_id)?.started_by).toBe("scheduler");
    expect(d.stderr()).toMatch(/scheduler: started plan "p"/);
  });

  test("a run missed while the daemon was down runs once at start (Persistent=true)", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x");
    await w.writeConfig(
      `${w.basicConfig([w.data], 'schedule = "2021-01-01 00:00:00 UTC"')}\n[server]\nscheduler = true\n`,
    );
    // The last run was in 2020: the 2021 elapse was missed.
    const store = new SqliteHistoryStore(join(w.stateDir, HISTORY_FILE));
    try {
      store.startRun({
        runId: "old",
        plan: "p",
        repositories: ["r"],
        startedAt: new Date("2020-06-01T00:00:00Z"),
        pid: process.pid,
      });
      store.finishRun("old", {
        status: "success",
        endedAt: new Date("2020-06-01T00:01:00Z"),
        snapshotIds: {},
        summaries: {},
        warnings: [],
        logTail: [],
      });
    } finally {
      store.close();
    }
    await using d = await startDaemon(w);
    expect(d.stderr()).toMatch(
      /plan "p" missed its run at 2021-01-01T00:00:00.000Z: running it now/,
    );
    // The run may be over before the stream opens: since=0 replays what the history holds.
    const events = await d.events({ since: 0 });
    const result = await events.waitFor((e) => e.type === "result" && e.plan === "p");
    expect(result.status).toBe("success");
    const runs = await json<RunRow[]>(await d.api("api/runs"));
    expect(runs.map((r) => r.run_id)).toEqual([result.run_id, "old"]);
    // A one-shot expression in the past: nothing more is scheduled.
    const plans = await json<{ next_run: string | null }[]>(await d.api("api/plans"));
    expect(plans[0]?.next_run).toBeNull();
  });

  test("snapshots, tree, restore of two files, download of a directory as tar, diff, check, prune", async () => {
    await using w = await createWorld();
    await mkdir(join(w.data, "docs"));
    await writeFile(join(w.data, "docs", "a.txt"), "alpha");
    await writeFile(join(w.data, "docs", "b.txt"), "bravo");
    await writeFile(join(w.data, "c.txt"), "charlie");
    await w.writeConfig(
      w.basicConfig([w.data], "[plans.p.retention]\nkeep_last = 5\nlocal_snapshots = 1"),
    );
    expect((await w.cli(["backup", "p"])).exitCode).toBe(0);
    await writeFile(join(w.data, "c.txt"), "charlie 2");
    expect((await w.cli(["backup", "p"])).exitCode).toBe(0);
    await using d = await startDaemon(w);

    const snaps = await json<{ id: string; kind: string; repository: string }[]>(
      await d.api("api/plans/p/snapshots"),
    );
    const backups = snaps.filter((s) => s.kind === "backup");
    expect(backups.map((s) => s.repository)).toEqual(["r", "r"]);
    const [newest, oldest] = backups.map((s) => s.id);
    // The newest run's filesystem snapshot is kept as a restore point, browsed from the disk.
    const points = snaps.filter((s) => s.kind === "restore_point") as unknown as {
      run_id: string;
    }[];
    expect(points).toHaveLength(1);
    const local = await json<{ name: string; type: string }[]>(
      await d.api(
        `api/snapshots/local/${points[0]?.run_id}/tree?path=${encodeURIComponent(w.data)}`,
      ),
    );
    expect(local.map((n) => [n.name, n.type])).toEqual([
      ["c.txt", "file"],
      ["docs", "dir"],
    ]);
    expect((await d.api(`api/snapshots/local/${points[0]?.run_id}/tree?path=/etc`)).status).toBe(
      403,
    );

    const tree = await json<{ name: string; type: string }[]>(
      await d.api(`api/snapshots/r/${newest}/tree?path=${encodeURIComponent(w.data)}`),
    );
    expect(tree.map((n) => [n.name, n.type]).sort()).toEqual([
      ["c.txt", "file"],
      ["docs", "dir"],
    ]);
    // Nothing outside what the plans back up can be read.
    expect((await d.api(`api/snapshots/r/${newest}/tree?path=/etc`)).status).toBe(403);
    expect((await d.api(`api/snapshots/r/${newest}/download?path=/etc/shadow`)).status).toBe(403);
    expect((await d.api(`api/snapshots/r/${newest}/tree?path=${w.data}/../x`)).status).toBe(400);

    const target = join(w.dir, "restored");
    const plan = await json<{ files: { path: string; to: string; action: string }[] }>(
      await d.api("api/plans/p/restore", {
        method: "POST",
        body: JSON.stringify({ paths: [join(w.data, "docs")], target, dry_run: true }),
      }),
    );
    expect(plan.files.map((f) => [f.to, f.action]).sort()).toEqual([
      [join(target, w.data, "docs", "a.txt"), "write"],
      [join(target, w.data, "docs", "b.txt"), "write"],
    ]);
    const inPlace = await json<{ files: { action: string }[] }>(
      await d.api("api/plans/p/restore", {
        method: "POST",
        body: JSON.stringify({ paths: [join(w.data, "c.txt")], target: "/", dry_run: true }),
      }),
    );
    expect(inPlace.files.map((f) => f.action)).toEqual(["refuse"]);
    const restore = await d.api("api/plans/p/restore", {
      method: "POST",
      body: JSON.stringify({
        snapshot: newest,
        paths: [join(w.data, "docs", "a.txt"), join(w.data, "c.txt")],
        target,
      }),
    });
    expect(restore.status).toBe(200);
    expect(await readFile(join(target, w.data, "docs", "a.txt"), "utf8")).toBe("alpha");
    expect(await readFile(join(target, w.data, "c.txt"), "utf8")).toBe("charlie 2");
    // if-newer: a.txt in the target made older than the backup is replaced, c.txt (just
    // written, newer) is kept; the dry run says which.
    const old = new Date("2001-01-01T00:00:00Z");
    await writeFile(join(target, w.data, "docs", "a.txt"), "old local");
    await utimes(join(target, w.data, "docs", "a.txt"), old, old);
    await writeFile(join(target, w.data, "c.txt"), "newer local");
    const both = [join(w.data, "docs", "a.txt"), join(w.data, "c.txt")];
    const newer = await json<{ files: { to: string; action: string }[] }>(
      await d.api("api/plans/p/restore", {
        method: "POST",
        body: JSON.stringify({
          snapshot: newest,
          paths: both,
          target,
          overwrite: "if-newer",
          dry_run: true,
        }),
      }),
    );
    expect(newer.files.map((f) => [f.to, f.action]).sort()).toEqual([
      [join(target, w.data, "c.txt"), "keep"],
      [join(target, w.data, "docs", "a.txt"), "overwrite"],
    ]);
    const ifNewer = await d.api("api/plans/p/restore", {
      method: "POST",
      body: JSON.stringify({ snapshot: newest, paths: both, target, overwrite: "if-newer" }),
    });
    expect(ifNewer.status).toBe(200);
    expect(await readFile(join(target, w.data, "docs", "a.txt"), "utf8")).toBe("alpha");
    expect(await readFile(join(target, w.data, "c.txt"), "utf8")).toBe("newer local");
    const outside = await d.api("api/plans/p/restore", {
      method: "POST",
      body: JSON.stringify({ paths: ["/etc/passwd"], target }),
    });
    expect(outside.status).toBe(403);

    const dl = await fetch(
      new URL(
        `api/snapshots/r/${newest}/download?path=${encodeURIComponent(join(w.data, "docs"))}`,
        d.url,
      ),
      { headers: { authorization: `Bearer ${d.token}` } },
    );
    expect(dl.status).toBe(200);
    expect(dl.headers.get("content-type")).toBe("application/x-tar");
    const tarFile = join(w.dir, "docs.tar");
    await writeFile(tarFile, Buffer.from(await dl.arrayBuffer()));
    const listing = (await run("tar", ["-tf", tarFile])).stdout.split("\n").filter(Boolean);
    expect(
      listing
        .filter((l) => !l.endsWith("/"))
        .map((l) => l.replace(/^.*\//, ""))
        .sort(),
    ).toEqual(["a.txt", "b.txt"]);
    const unpacked = join(w.dir, "unpacked");
    await mkdir(unpacked);
    await run("tar", ["-xf", tarFile, "-C", unpacked]);
    const b = (await run("find", [unpacked, "-name", "b.txt"])).stdout.trim();
    expect(await readFile(b, "utf8")).toBe("bravo");

    const diff = await json<{ changes: { path: string; modifier: string }[] }>(
      await d.api(`api/snapshots/r/diff?from=${oldest}&to=${newest}`),
    );
    expect(diff.changes).toContainEqual({ path: join(w.data, "c.txt"), modifier: "M" });

    const check = await json<{ ok: boolean }>(await d.api("api/plans/p/check", { method: "POST" }));
    expect(check.ok).toBe(true);
    const prune = await d.api("api/plans/p/prune", { method: "POST", body: '{"dry_run":true}' });
    expect(prune.status).toBe(200);
    expect((await json<{ ok: boolean }>(prune)).ok).toBe(true);
    const audit = await json<{ action: string }[]>(await d.api("api/audit"));
    expect(audit.map((a) => a.action)).toEqual(
      expect.arrayContaining(["restore", "download", "check", "prune"]),
    );
    expectNoSecrets(d);
  });
  test("snapback serve exits 2 naming the key, with no stack trace", async () => {
    const dir = await mkdtemp(join(tmpdir(), "snapback-serve-cli-"));
    try {
      const config = join(dir, "snapback.toml");
      await writeFile(config, `state_dir = "${dir}/state"\n[server]\nlisten = "0.0.0.0:8470"\n`, {
        mode: 0o600,
      });
      const cli = CLI;
      const r = await run(process.execPath, [cli, "--config", config, "serve"], { reject: false });
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(
        /^error: server\.listen: "0\.0\.0\.0:8470" is not a loopback address/,
      );
      expect(r.stderr).toMatch(/hint: set server\.tls_cert and server\.tls_key/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      const flag = await run(
        process.execPath,
        [cli, "--config", config, "serve", "--listen", "10.1.2.3:1"],
        { reject: false },
      );
      expect(flag.exitCode).toBe(2);
      expect(flag.stderr).toMatch(/^error: --listen: "10\.1\.2\.3:1" is not a loopback address/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("systemd Type=notify: READY=1 once it listens, STOPPING=1 on SIGTERM", async () => {
    await using w = await createWorld();
    await w.writeConfig(w.basicConfig([w.data]));
    const socket = join(w.dir, "notify.sock");
    // A stand-in for systemd's notify socket: prints every datagram it receives as one line.
    const listener = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    print(s.recv(4096).decode().replace("\\n", " "), flush=True)
`;
    const stop = new AbortController();
    const messages: string[] = [];
    let listening!: () => void;
    const bound = new Promise<void>((r) => (listening = r));
    const waiters: { needle: string; resolve: () => void }[] = [];
    const done = run("python3", ["-c", listener, socket], {
      signal: stop.signal,
      reject: false,
      onStdoutLine: (line) => {
        if (line === "listening") listening();
        messages.push(line);
        for (const x of waiters.filter((x) => line.includes(x.needle))) x.resolve();
      },
    });
    const seen = (needle: string): Promise<void> =>
      messages.some((m) => m.includes(needle))
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ needle, resolve }));
    try {
      await bound;
      const d = await startDaemon(w, { env: { NOTIFY_SOCKET: socket } });
      try {
        await seen("READY=1");
        expect(messages.find((m) => m.includes("READY=1"))).toBe(`MAINPID=${d.pid} READY=1`);
        process.kill(d.pid, "SIGTERM");
        await seen("STOPPING=1");
        expect(await d.exited).toBe(0);
      } finally {
        await d[Symbol.asyncDispose]();
      }
    } finally {
      stop.abort();
      await done;
    }
  });

  test("SIGKILL of the daemon alone: its run finishes on its own and the next daemon shows it", async () => {
    await using w = await createWorld();
    await using held = await heldInEngine(w);
    const d = await startDaemon(w);
    let runId: string;
    try {
      const events = await d.events();
      runId = (
        await json<{ run_id: string }>(await d.api("api/plans/p/backup", { method: "POST" }))
      ).run_id;
      await events.waitFor((e) => e.type === "progress" && e.run_id === runId);
      process.kill(d.pid, "SIGKILL");
      expect(await d.exited).toBe(null);
      // Only now may the orphaned run go on.
      held.gate.open();
    } finally {
      await d[Symbol.asyncDispose]();
    }
    await using again = await startDaemon(w, { token: d.token });
    const events = await again.events({ since: 0 });
    const result = await events.waitFor((e) => e.type === "result" && e.run_id === runId);
    expect(result.status).toBe("success");
    expect(result.run_id).toBe(runId);
    expect(await leftovers(w)).toEqual([]);
  });
});

describe("snapback serve over TLS", () => {
  test("tls_cert/tls_key: HTTPS only, the session cookie is Secure", async () => {
    await using w = await createWorld();
    const cert = join(w.dir, "tls.crt");
    const key = join(w.dir, "tls.key");
    await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      key,
      "-out",
      cert,
    ]);
    await chmod(key, 0o600);
    await w.writeConfig(
      `${w.basicConfig([w.data])}\n[server]\ntls_cert = "${cert}"\ntls_key = "${key}"\n`,
    );
    const password = "tls-test-password-123";
    expect(
      (await w.cli(["user", "add", "alice", "--role", "admin"], { input: `${password}\n` }))
        .exitCode,
    ).toBe(0);
    await using d = await startDaemon(w);
    expect(d.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    const ca = await readFile(cert);
    const get = (path: string, init: RequestOptions = {}, body?: string) =>
      new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
        (resolve, reject) => {
          const req = httpsRequest(new URL(path, d.url), { ca, ...init }, (res) => {
            let text = "";
            res.on("data", (c: Buffer) => (text += c.toString()));
            res.on("end", () =>
              resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }),
            );
          });
          req.on("error", reject);
          req.end(body);
        },
      );
    expect((await get("healthz")).body).toBe('{"ok":true}');
    const login = await get(
      "api/login",
      { method: "POST", headers: { "content-type": "application/json" } },
      JSON.stringify({ user: "alice", password }),
    );
    expect(login.status).toBe(200);
    expect(String(login.headers["set-cookie"])).toMatch(/; Secure/);
    // Plain HTTP on the same port is not served.
    const plain = await fetch(d.url.replace("https:", "http:")).then(
      (r) => r.status,
      () => "refused",
    );
    expect(plain).not.toBe(200);
  });
});
