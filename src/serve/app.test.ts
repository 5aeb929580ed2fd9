import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseConfigText } from "../config/load.js";
import { MemoryHistoryStore } from "../history/index.js";
import { createApp, type AppDeps } from "./app.js";
import { LoginLimiter, Sessions } from "./auth.js";
import { RunEventBus, type RunMessage } from "./bus.js";
import { RunManager } from "./runner.js";
import { UsersStore } from "./users.js";

/**
 * The backup child, stood in for by a tiny node program speaking the `--json backup`
 * protocol: plan "slow" prints `start` and waits for SIGINT (then `result` interrupted, exit
 * 130); any other plan succeeds at once.
 */
const FAKE_CHILD = `
const argv = process.argv;
const plan = argv[argv.indexOf("backup") + 1];
const runId = argv[argv.indexOf("--run-id") + 1];
const out = (e) => process.stdout.write(JSON.stringify(e) + "\\n");
if (plan === "slow")
  process.on("SIGINT", () => { out({ type: "result", plan, run_id: runId, status: "interrupted" }); process.exit(130); });
out({ type: "start", plan, run_id: runId, sources: ["/src"], repositories: ["r"] });
if (plan === "slow") {
  setInterval(() => {}, 1 << 30);
} else {
  out({ type: "progress", plan, repository: "r", percent_done: 0.5 });
  out({ type: "result", plan, run_id: runId, status: "success" });
}
`;

const PASSWORD = "correct horse battery";
const REPO_PASSWORD_ENV = "S3CR3T-env-value";

const CONFIG = `
state_dir = "/var/lib/snapback-test"
[repositories.r]
engine = "restic"
url = "/srv/restic"
password_file = "/etc/snapback/r.pass"
env = { AWS_SECRET_ACCESS_KEY = "${REPO_PASSWORD_ENV}" }
[plans.quick]
sources = ["/src"]
repositories = ["r"]
schedule = "daily"
[plans.slow]
sources = ["/src"]
repositories = ["r"]
`;

interface World extends AsyncDisposable {
  deps: AppDeps;
  app: ReturnType<typeof createApp>;
  history: MemoryHistoryStore;
  users: UsersStore;
  bus: RunEventBus;
  runs: RunManager;
  /** Every response body seen, for the secret scan. */
  bodies: string[];
  req(path: string, init?: RequestInit): Promise<Response>;
  login(user: string, password: string): Promise<Response>;
  /** Resolves with the first bus message matching `pred`. */
  next(pred: (m: RunMessage) => boolean): Promise<RunMessage>;
}

async function world(options: { basePath?: string; tls?: boolean } = {}): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), "snapback-serve-"));
  const history = new MemoryHistoryStore();
  // Cheap hashes: the cost parameter is not what these tests are about.
  const users = new UsersStore(join(dir, "users"), { scryptN: 1024 });
  const bus = new RunEventBus();
  const runs = new RunManager({
    child: { file: process.execPath, args: ["-e", FAKE_CHILD, "--"] },
    maxParallel: 2,
    bus,
    history,
    onError: () => undefined,
  });
  const shutdown = new AbortController();
  const deps: AppDeps = {
    config: parseConfigText(CONFIG),
    history,
    users,
    sessions: new Sessions(3600_000),
    limiter: new LoginLimiter(5, 60_000),
    runs,
    bus,
    scheduler: false,
    tls: options.tls ?? false,
    basePath: options.basePath ?? "/",
    shutdown: shutdown.signal,
  };
  const app = createApp(deps);
  const bodies: string[] = [];
  const w: World = {
    deps,
    app,
    history,
    users,
    bus,
    runs,
    bodies,
    async req(path, init) {
      const res = await app.request(path, init);
      if (!(res.headers.get("content-type") ?? "").startsWith("text/event-stream"))
        bodies.push(await res.clone().text());
      return res;
    },
    login(user, password) {
      return w.req(`${deps.basePath}api/login`, {
        method: "POST",
        body: JSON.stringify({ user, password }),
      });
    },
    next(pred) {
      return new Promise((resolve) => {
        const off = bus.subscribe((m) => {
          if (pred(m)) {
            off();
            resolve(m);
          }
        });
      });
    },
    async [Symbol.asyncDispose]() {
      await runs.stopAll();
      shutdown.abort();
      history.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return w;
}

function cookieOf(res: Response): string {
  const set = res.headers.get("set-cookie") ?? "";
  return set.split(";")[0] ?? "";
}

const SAME_ORIGIN = { host: "localhost", origin: "http://localhost" };

describe("serve routes", () => {
  let w: World;
  let adminToken: string;
  let viewerToken: string;
  beforeEach(async () => {
    w = await world();
    await w.users.addUser("alice", PASSWORD, "admin");
    await w.users.addUser("victor", PASSWORD, "viewer");
    adminToken = await w.users.createToken("ci", "admin");
    viewerToken = await w.users.createToken("grafana", "viewer");
  });
  afterEach(async () => {
    // No response ever carries a secret: passwords, tokens, their hashes, repository env.
    const hashes = Object.values((await w.users.read()).users).map((u) => u.hash);
    for (const body of w.bodies) {
      for (const secret of [PASSWORD, adminToken, viewerToken, REPO_PASSWORD_ENV, ...hashes])
        expect(body).not.toContain(secret);
      expect(body).not.toContain("scrypt$");
    }
    await w[Symbol.asyncDispose]();
  });
  const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` });

  it("answers /healthz without auth and everything else with 401", async () => {
    expect(await (await w.req("/healthz")).json()).toEqual({ ok: true });
    for (const path of [
      "/api/plans",
      "/api/runs",
      "/api/events",
      "/api/status",
      "/metrics",
      "/api/openapi.json",
    ]) {
      const res = await w.req(path);
      expect(res.status, path).toBe(401);
    }
    expect((await w.req("/api/plans/quick/backup", { method: "POST" })).status).toBe(401);
    expect((await w.req("/api/plans", { headers: bearer("sbt.ci.wrong") })).status).toBe(401);
    expect((await w.req("/api/plans", { headers: { authorization: "Basic abc" } })).status).toBe(
      401,
    );
  });

  it("logs in with a session cookie (HttpOnly, SameSite, no Secure without TLS); 401 on a wrong password", async () => {
    const wrong = await w.login("alice", "nope nope");
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("set-cookie")).toBeNull();
    expect((await w.login("nobody", PASSWORD)).status).toBe(401);
    const ok = await w.login("alice", PASSWORD);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ name: "alice", role: "admin", kind: "user" });
    const set = ok.headers.get("set-cookie") ?? "";
    expect(set).toMatch(/^snapback_session=[\w-]{40,};/);
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/SameSite=Strict/);
    expect(set).toMatch(/Path=\//);
    expect(set).not.toMatch(/Secure/);
    const me = await w.req("/api/me", { headers: { cookie: cookieOf(ok) } });
    expect(await me.json()).toEqual({ name: "alice", role: "admin", kind: "user" });
    const out = await w.req("/api/logout", {
      method: "POST",
      headers: { cookie: cookieOf(ok), ...SAME_ORIGIN },
    });
    expect(out.status).toBe(200);
    expect((await w.req("/api/me", { headers: { cookie: cookieOf(ok) } })).status).toBe(401);
    expect(w.history.audit().map((a) => [a.user, a.action])).toEqual([
      ["alice", "login"],
      ["nobody", "login_failed"],
      ["alice", "login_failed"],
    ]);
  });

  it("sets Secure on the cookie under TLS and serves under base_path", async () => {
    await using tlsWorld = await world({ tls: true, basePath: "/backup/" });
    await tlsWorld.users.addUser("alice", PASSWORD, "admin");
    const res = await tlsWorld.login("alice", PASSWORD);
    expect(res.headers.get("set-cookie")).toMatch(/; Secure/);
    expect(res.headers.get("set-cookie")).toMatch(/Path=\/backup\//);
    expect((await tlsWorld.req("/backup/healthz")).status).toBe(200);
    expect((await tlsWorld.req("/healthz")).status).toBe(404);
    expect(
      (await tlsWorld.req("/backup/api/plans", { headers: { cookie: cookieOf(res) } })).status,
    ).toBe(200);
  });

  it("rate-limits failed logins: the sixth attempt is refused even with the right password", async () => {
    for (let i = 0; i < 5; i++) expect((await w.login("alice", `wrong-${i}`)).status).toBe(401);
    const limited = await w.login("alice", PASSWORD);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    // Another user from another client is not affected by alice's key... but the same
    // client address is ("local" in app.request): the address key is limited too.
    expect((await w.login("victor", PASSWORD)).status).toBe(429);
  });

  it("refuses a state change on a cookie session without this server's Origin/Referer (CSRF)", async () => {
    const cookie = cookieOf(await w.login("alice", PASSWORD));
    const post = (headers: Record<string, string>): Promise<Response> =>
      w.req("/api/plans/quick/backup", {
        method: "POST",
        headers: { cookie, host: "localhost", ...headers },
      });
    expect((await post({})).status).toBe(403);
    const evil = await post({ origin: "https://evil.example" });
    expect(evil.status).toBe(403);
    expect(await evil.json()).toEqual({ error: expect.stringMatching(/cross-site/) as string });
    expect((await post({ referer: "https://evil.example/page" })).status).toBe(403);
    expect((await post({ origin: "null" })).status).toBe(403);
    const finished = w.next((m) => m.kind === "finished");
    const ok = await post({ referer: "http://localhost/ui/plans" });
    expect(ok.status).toBe(202);
    // The child exits after its result; only then is the plan free again.
    await w.runs.get((await finished).run_id)?.finished;
    // Bearer tokens need no Origin.
    const finished2 = w.next((m) => m.kind === "finished");
    expect(
      (await w.req("/api/plans/quick/backup", { method: "POST", headers: bearer(adminToken) }))
        .status,
    ).toBe(202);
    await finished2;
  });

  it("gives a viewer 403 on changes and 200 on reads", async () => {
    expect(
      (await w.req("/api/plans/quick/backup", { method: "POST", headers: bearer(viewerToken) }))
        .status,
    ).toBe(403);
    const cookie = cookieOf(await w.login("victor", PASSWORD));
    const res = await w.req("/api/plans/quick/backup", {
      method: "POST",
      headers: { cookie, ...SAME_ORIGIN },
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: "victor is a viewer: this needs the admin role" });
    expect(
      (await w.req("/api/runs/x/cancel", { method: "POST", headers: bearer(viewerToken) })).status,
    ).toBe(403);
    expect((await w.req("/api/plans", { headers: bearer(viewerToken) })).status).toBe(200);
    expect((await w.req("/api/audit", { headers: bearer(viewerToken) })).status).toBe(403);
    expect(w.runs.current()).toEqual([]);
  });

  it("stops accepting a revoked token and a removed user's session at once", async () => {
    expect((await w.req("/api/plans", { headers: bearer(adminToken) })).status).toBe(200);
    await w.users.revokeToken("ci");
    expect((await w.req("/api/plans", { headers: bearer(adminToken) })).status).toBe(401);
    const cookie = cookieOf(await w.login("victor", PASSWORD));
    expect((await w.req("/api/plans", { headers: { cookie } })).status).toBe(200);
    await w.users.removeUser("victor");
    expect((await w.req("/api/plans", { headers: { cookie } })).status).toBe(401);
  });

  it("lists plans with schedule, last run and running state", async () => {
    w.history.startRun({
      runId: "old",
      plan: "quick",
      repositories: ["r"],
      startedAt: new Date("2025-01-01T00:00:00Z"),
      pid: process.pid,
    });
    w.history.finishRun("old", {
      status: "partial",
      endedAt: new Date("2025-01-01T00:01:00Z"),
      snapshotIds: {},
      summaries: {},
      warnings: [],
      logTail: [],
    });
    const plans = (await (
      await w.req("/api/plans", { headers: bearer(viewerToken) })
    ).json()) as unknown[];
    expect(plans).toMatchObject([
      {
        name: "quick",
        sources: ["/src"],
        repositories: ["r"],
        schedule: "daily",
        last_run: { run_id: "old", status: "partial", time: "2025-01-01T00:01:00.000Z" },
        running: false,
        bytes_protected: null,
        // Daily, and no run in the last 30 days: overdue, and the judged days are missed.
        overdue: true,
      },
      {
        name: "slow",
        sources: ["/src"],
        repositories: ["r"],
        schedule: null,
        last_run: null,
        next_run: null,
        running: false,
        overdue: false,
      },
    ]);
    const [quick, slow] = plans as {
      next_run: string | null;
      days: { date: string; status: string | null }[];
    }[];
    // Timers run it: the next elapse comes from systemd, tomorrow at midnight at the latest.
    expect(Date.parse(quick?.next_run ?? "")).toBeGreaterThan(Date.now());
    expect(quick?.days).toHaveLength(30);
    expect(quick?.days.slice(0, 29).every((d) => d.status === "missed")).toBe(true);
    expect(slow?.days.every((d) => d.status === null)).toBe(true);
  });

  it("starts a run (202 run_id), refuses a second one of the same plan (409), cancels it (interrupted)", async () => {
    const started = w.next((m) => m.kind === "started" && m.plan === "slow");
    const res = await w.req("/api/plans/slow/backup", {
      method: "POST",
      headers: bearer(adminToken),
      body: "{}",
    });
    expect(res.status).toBe(202);
    const { run_id } = (await res.json()) as { run_id: string };
    expect((await started).run_id).toBe(run_id);

    const again = await w.req("/api/plans/slow/backup", {
      method: "POST",
      headers: bearer(adminToken),
    });
    expect(again.status).toBe(409);
    expect(await again.json()).toEqual({ error: 'plan "slow" is running' });

    const plans = (await (await w.req("/api/plans", { headers: bearer(adminToken) })).json()) as {
      name: string;
      running: boolean;
    }[];
    expect(plans.find((p) => p.name === "slow")?.running).toBe(true);
    const listed = (await (await w.req("/api/runs", { headers: bearer(adminToken) })).json()) as {
      run_id: string;
      status: string;
      started_by: string;
    }[];
    expect(listed[0]).toMatchObject({ run_id, status: "running", started_by: "ci" });

    const finished = w.next((m) => m.kind === "finished" && m.run_id === run_id);
    const cancel = await w.req(`/api/runs/${run_id}/cancel`, {
      method: "POST",
      headers: bearer(adminToken),
    });
    expect(cancel.status).toBe(202);
    const end = await finished;
    expect(end.status).toBe("interrupted");
    await w.runs.get(run_id)?.finished;
    expect(w.runs.get(run_id)?.exitCode).toBe(130);
    expect(
      (await w.req(`/api/runs/${run_id}/cancel`, { method: "POST", headers: bearer(adminToken) }))
        .status,
    ).toBe(409);
    expect(w.history.audit().map((a) => [a.user, a.action, a.target])).toEqual([
      ["ci", "cancel", run_id],
      ["ci", "backup", "slow"],
    ]);
  });

  it("says 404 for unknown plans and runs, 400 naming the key for a bad body", async () => {
    const h = bearer(adminToken);
    expect((await w.req("/api/plans/nope/backup", { method: "POST", headers: h })).status).toBe(
      404,
    );
    expect((await w.req("/api/runs/nope", { headers: h })).status).toBe(404);
    expect((await w.req("/api/runs/nope/cancel", { method: "POST", headers: h })).status).toBe(404);
    const bad = await w.req("/api/plans/quick/backup", {
      method: "POST",
      headers: h,
      body: '{"dry_run":"yes"}',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/^dry_run: /);
    const extra = await w.req("/api/plans/quick/backup", {
      method: "POST",
      headers: h,
      body: '{"force":true}',
    });
    expect(((await extra.json()) as { error: string }).error).toMatch(/force/);
    expect(
      (await w.req("/api/plans/quick/backup", { method: "POST", headers: h, body: "{" })).status,
    ).toBe(400);
    expect((await w.req("/api/runs?limit=0", { headers: h })).status).toBe(400);
  });

  it("pages runs newest first with limit and before; shows one run with its events", async () => {
    for (let i = 0; i < 5; i++) {
      w.history.startRun({
        runId: `r${i}`,
        plan: i % 2 ? "slow" : "quick",
        repositories: ["r"],
        startedAt: new Date(Date.UTC(2025, 0, 1, i)),
        pid: process.pid,
      });
      w.history.appendEvent(`r${i}`, "quick", { type: "start" });
      w.history.finishRun(`r${i}`, {
        status: "success",
        endedAt: new Date(Date.UTC(2025, 0, 1, i, 30)),
        snapshotIds: { r: `s${i}` },
        summaries: {
          r: { filesNew: i, filesChanged: 0, filesUnmodified: 0, dataAdded: 10, durationS: 1 },
        },
        warnings: [],
        logTail: ["done"],
      });
    }
    const h = bearer(viewerToken);
    const ids = async (q: string): Promise<string[]> =>
      ((await (await w.req(`/api/runs${q}`, { headers: h })).json()) as { run_id: string }[]).map(
        (r) => r.run_id,
      );
    expect(await ids("")).toEqual(["r4", "r3", "r2", "r1", "r0"]);
    expect(await ids("?limit=2")).toEqual(["r4", "r3"]);
    expect(await ids("?limit=2&before=r3")).toEqual(["r2", "r1"]);
    expect(await ids("?limit=2&before=r1")).toEqual(["r0"]);
    expect(await ids("?plan=slow")).toEqual(["r3", "r1"]);
    const detail = (await (await w.req("/api/runs/r3", { headers: h })).json()) as Record<
      string,
      unknown
    >;
    expect(detail).toMatchObject({
      run_id: "r3",
      status: "success",
      snapshot_ids: { r: "s3" },
      summaries: {
        r: { files_new: 3, files_changed: 0, files_unmodified: 0, data_added: 10, duration_s: 1 },
      },
      log_tail: ["done"],
      events: [{ type: "start", run_id: "r3" }],
    });
  });

  it("streams every run event over SSE, with run_id", async () => {
    const res = await w.req("/api/events", { headers: bearer(viewerToken) });
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = "";
    const readUntil = async (needle: string): Promise<void> => {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${needle}`);
        text += decoder.decode(value);
      }
    };
    await readUntil("event: hello");
    // A run started elsewhere, as the history watcher relays it.
    w.bus.publish("ext-1", "quick", { type: "progress", percent_done: 0.25 }, "external");
    await readUntil("ext-1");
    const finished = w.next((m) => m.kind === "finished");
    await w.req("/api/plans/quick/backup", { method: "POST", headers: bearer(adminToken) });
    const { run_id } = await finished;
    await readUntil(`"type":"result","plan":"quick","run_id":"${run_id}"`);
    await reader.cancel();
    const events = text
      .split("\n")
      .filter((l) => l.startsWith('data: {"type"'))
      .map((l) => JSON.parse(l.slice(6)) as { type: string; run_id: string });
    expect(events[0]).toEqual({
      type: "progress",
      percent_done: 0.25,
      run_id: "ext-1",
      plan: "quick",
    });
    expect(events.slice(1).map((e) => [e.type, e.run_id])).toEqual([
      ["start", run_id],
      ["progress", run_id],
      ["result", run_id],
    ]);
  });

  it("shows status, the redacted config and the OpenAPI document", async () => {
    const h = bearer(viewerToken);
    const status = (await (await w.req("/api/status", { headers: h })).json()) as Record<
      string,
      unknown
    >;
    expect(status).toMatchObject({ running: [], scheduler: false });
    const config = (await (await w.req("/api/config", { headers: h })).json()) as {
      config: { repositories: { r: { env: Record<string, string> } } };
      problems: string[];
    };
    expect(config.config.repositories.r.env).toEqual({ AWS_SECRET_ACCESS_KEY: "***" });
    expect(config.problems).toEqual([]);
    const doc = (await (await w.req("/api/openapi.json", { headers: h })).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/api/plans",
        "/api/runs",
        "/api/plans/{plan}/backup",
        "/api/events",
      ]),
    );
    expect(JSON.stringify(doc.paths["/api/plans/{plan}/backup"])).toContain("dry_run");
    const metrics = await w.req("/metrics", { headers: h });
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get("content-type")).toMatch(/^text\/plain/);
  });

  it("guards the repository routes: auth, roles, CSRF and paths, before anything runs", async () => {
    const v = bearer(viewerToken);
    const a = bearer(adminToken);
    for (const path of [
      "/api/plans/quick/snapshots",
      "/api/snapshots/r/latest/tree?path=/src",
      "/api/snapshots/r/latest/download?path=/src/f",
      "/api/snapshots/r/diff?from=abcdef&to=fedcba",
    ])
      expect((await w.req(path)).status, path).toBe(401);
    for (const path of [
      "/api/plans/quick/restore",
      "/api/plans/quick/check",
      "/api/plans/quick/prune",
    ]) {
      expect((await w.req(path, { method: "POST", headers: v, body: "{}" })).status, path).toBe(
        403,
      );
      const cookie = cookieOf(await w.login("alice", PASSWORD));
      expect(
        (
          await w.req(path, {
            method: "POST",
            headers: { cookie, host: "localhost", origin: "https://evil.example" },
            body: "{}",
          })
        ).status,
        path,
      ).toBe(403);
    }
    // Paths outside what the plans back up, or not clean, never reach restic.
    const tree = (q: string): Promise<Response> =>
      w.req(`/api/snapshots/r/latest/tree?path=${encodeURIComponent(q)}`, { headers: v });
    expect((await tree("/etc")).status).toBe(403);
    expect((await tree("/src/../etc")).status).toBe(400);
    expect((await tree("/src/")).status).toBe(400);
    expect((await tree("relative")).status).toBe(400);
    expect(
      (await w.req("/api/snapshots/r/latest/download?path=/etc/shadow", { headers: v })).status,
    ).toBe(403);
    // The root is a parent of a source: browsable, not downloadable whole.
    expect((await w.req("/api/snapshots/r/latest/download?path=/", { headers: v })).status).toBe(
      403,
    );
    expect((await w.req("/api/snapshots/r/not-an-id/tree?path=/src", { headers: v })).status).toBe(
      400,
    );
    expect((await w.req("/api/snapshots/nope/latest/tree?path=/src", { headers: v })).status).toBe(
      403,
    );
    const restore = (body: unknown): Promise<Response> =>
      w.req("/api/plans/quick/restore", { method: "POST", headers: a, body: JSON.stringify(body) });
    const outside = await restore({ paths: ["/src/a", "/etc/passwd"], target: "/tmp/x" });
    expect(outside.status).toBe(403);
    expect(await outside.json()).toEqual({
      error: 'paths.1: "/etc/passwd" is not inside a source of plan quick',
    });
    const badTarget = await restore({ paths: ["/src/a"], target: "/tmp/../etc" });
    expect(badTarget.status).toBe(400);
    expect(((await badTarget.json()) as { error: string }).error).toMatch(/^target: /);
    expect((await restore({ paths: [], target: "/tmp/x" })).status).toBe(400);
    expect(
      (await restore({ paths: ["/src/a"], target: "/tmp/x", overwrite: "sometimes" })).status,
    ).toBe(400);
    expect(
      (await w.req("/api/plans/nope/restore", { method: "POST", headers: a, body: "{}" })).status,
    ).toBe(404);
    expect(w.history.audit()).toEqual([
      expect.objectContaining({ action: "login" }),
      expect.objectContaining({ action: "login" }),
      expect.objectContaining({ action: "login" }),
    ]);
  });

  it("queues runs beyond max_parallel and starts them as others end; a queued run can be cancelled", async () => {
    const runs = new RunManager({
      child: { file: process.execPath, args: ["-e", FAKE_CHILD, "--"] },
      maxParallel: 1,
      bus: w.bus,
      history: w.history,
      onError: () => undefined,
    });
    try {
      const started = w.next((m) => m.kind === "started" && m.plan === "slow");
      const first = runs.start("slow", { by: "t" });
      await started;
      const second = runs.start("quick", { by: "t" });
      const third = runs.start("quick", { by: "t", dryRun: true });
      expect([first.state, second.state, third.state]).toEqual(["running", "queued", "queued"]);
      expect(runs.cancel(third.runId)).toBe(true);
      await third.finished;
      const secondDone = w.next((m) => m.kind === "finished" && m.run_id === second.runId);
      expect(runs.cancel(first.runId)).toBe(true);
      await first.finished;
      expect((await secondDone).status).toBe("success");
      await second.finished;
      expect([first.exitCode, second.exitCode, third.exitCode]).toEqual([130, 0, undefined]);
    } finally {
      await runs.stopAll();
    }
  });
});
