import { readFile } from "node:fs/promises";
import { Hono, type Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import { streamSSE } from "hono/streaming";
import * as z from "../util/zod.js";
import type { Config } from "../config/schema.js";
import { redactConfig } from "../config/redact.js";
import { errorMessage, SnapbackError } from "../errors.js";
import type { HistoryStore, RunRecord } from "../history/index.js";
import {
  backupRequest,
  loginRequest,
  runsQuery,
  type PlanResponse,
  type RunDetailResponse,
  type RunResponse,
} from "./api.js";
import { sameOrigin, type LoginLimiter, type Sessions } from "./auth.js";
import type { RunEventBus, RunMessage } from "./bus.js";
import { openApiDocument } from "./openapi.js";
import { mountRepoRoutes, type CliRunner } from "./repo-routes.js";
import { PlanBusyError, type DaemonRun } from "./runner.js";
import type { Principal, UsersStore } from "./users.js";
import { cancelExternalRun } from "./cancel.js";
import { withDashboard } from "./dashboard-plans.js";

export const SESSION_COOKIE = "snapback_session";
export const VERSION = "0.1.0";

/** What the routes need of the run manager (RunManager, or a stand-in in tests). */
export interface Runs {
  start(plan: string, opts: { dryRun?: boolean; by: string }): DaemonRun;
  cancel(runId: string): boolean;
  get(runId: string): DaemonRun | undefined;
  current(): DaemonRun[];
  cli: CliRunner["cli"];
}

export interface AppDeps {
  config: Config;
  history: HistoryStore;
  users: UsersStore;
  sessions: Sessions;
  limiter: LoginLimiter;
  runs: Runs;
  bus: RunEventBus;
  /** Next scheduled time of a plan (the daemon's scheduler), if it schedules. */
  nextRun?: (plan: string) => Date | undefined;
  scheduler: boolean;
  /** The session cookie gets `Secure` (served over TLS). */
  tls: boolean;
  /** "/" or "/backup/". */
  basePath: string;
  /** Aborted when the daemon stops: open event streams end. */
  shutdown: AbortSignal;
  /** Config validation problems found at start (shown by GET /api/config). */
  problems?: string[];
  /** Issue 13 hook: mounts the web UI (static files of dist/web/) under base_path. */
  mountWeb?: (app: Hono<Env>) => void;
  log?: (message: string) => void;
}

export type Env = { Variables: { principal: Principal; via: "cookie" | "token" } };

const CHANGES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** The HTTP API (and, later, the web UI) of `snapback serve`, testable through `app.request()`. */
export function createApp(deps: AppDeps): Hono<Env> {
  const root = new Hono<Env>();
  const base = deps.basePath.replace(/\/$/, "");
  const app = base === "" ? root : root.basePath(base);
  // "/backup" without its slash: the UI's relative paths need the directory form.
  if (base !== "") root.get(base, (c) => c.redirect(`${base}/`, 301));
  const cookiePath = deps.basePath;
  const audit = (
    c: Context<Env>,
    action: string,
    target: string,
    detail: Record<string, unknown> = {},
  ): void => {
    try {
      deps.history.addAudit({
        at: new Date().toISOString(),
        user: c.get("principal").name,
        action,
        target,
        detail,
      });
    } catch (e) {
      deps.log?.(`audit: ${errorMessage(e)}`);
    }
  };

  root.onError((e, c) => {
    if (e instanceof HttpError) return c.json({ error: e.message }, e.status);
    if (e instanceof z.ZodError) return c.json({ error: zodMessage(e) }, 400);
    if (e instanceof SnapbackError)
      return c.json({ error: e.message }, e.exitCode === 2 ? 400 : 500);
    deps.log?.(`internal error: ${errorMessage(e)}`);
    return c.json({ error: "internal error" }, 500);
  });
  root.notFound((c) => c.json({ error: "not found" }, 404));

  app.get("/healthz", (c) => c.json({ ok: true }));

  // Before login: whether any user exists (a fresh install shows how to create the first).
  app.get("/api/login", async (c) => {
    const users = await deps.users.read();
    return c.json({ has_users: Object.keys(users.users).length > 0 });
  });

  app.post("/api/login", async (c) => {
    const body = loginRequest.parse(await jsonBody(c));
    const client = clientAddress(c);
    const keys = [`addr:${client}`, `user:${body.user}`];
    const wait = deps.limiter.retryAfter(keys);
    if (wait > 0) {
      c.header("Retry-After", String(wait));
      return c.json({ error: `too many failed logins; try again in ${wait} s` }, 429);
    }
    const principal = await deps.users.checkPassword(body.user, body.password);
    if (!principal) {
      deps.limiter.fail(keys);
      deps.history.addAudit({
        at: new Date().toISOString(),
        user: body.user,
        action: "login_failed",
        target: client,
        detail: {},
      });
      return c.json({ error: "wrong user name or password" }, 401);
    }
    deps.limiter.succeed(keys);
    const id = deps.sessions.create(principal);
    setCookie(c, SESSION_COOKIE, id, {
      httpOnly: true,
      sameSite: "Strict",
      secure: deps.tls,
      path: cookiePath,
    });
    deps.history.addAudit({
      at: new Date().toISOString(),
      user: principal.name,
      action: "login",
      target: client,
      detail: {},
    });
    return c.json({ name: principal.name, role: principal.role, kind: principal.kind });
  });

  // Everything below needs a session or a token.
  const requireAuth = createMiddleware<Env>(async (c, next) => {
    if (c.req.path === `${base}/api/login`) return next();
    const header = c.req.header("authorization");
    let principal: Principal | undefined;
    let via: "cookie" | "token" = "cookie";
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)$/i.exec(header);
      principal = m?.[1] === undefined ? undefined : await deps.users.checkToken(m[1]);
      via = "token";
    } else {
      const id = getCookie(c, SESSION_COOKIE);
      const session = id === undefined ? undefined : deps.sessions.get(id);
      // A removed user (or a changed role) takes effect at once.
      const role = session && (await deps.users.roleOf(session));
      if (session && role) principal = { ...session, role };
    }
    if (!principal) return c.json({ error: "authentication required" }, 401);
    if (CHANGES.has(c.req.method)) {
      if (
        via === "cookie" &&
        !sameOrigin(
          {
            origin: c.req.header("origin"),
            referer: c.req.header("referer"),
            host: c.req.header("host"),
          },
          [],
        )
      ) {
        return c.json(
          { error: "cross-site request refused (Origin/Referer is not this server)" },
          403,
        );
      }
      if (principal.role !== "admin" && !c.req.path.endsWith("/api/logout"))
        return c.json({ error: `${principal.name} is a viewer: this needs the admin role` }, 403);
    }
    c.set("principal", principal);
    c.set("via", via);
    await next();
  });
  app.use("/api/*", requireAuth);
  app.use("/metrics", requireAuth);

  app.post("/api/logout", (c) => {
    const id = getCookie(c, SESSION_COOKIE);
    if (id !== undefined) deps.sessions.delete(id);
    deleteCookie(c, SESSION_COOKIE, { path: cookiePath });
    return c.json({ ok: true });
  });

  app.get("/api/me", (c) => {
    const p = c.get("principal");
    return c.json({ name: p.name, role: p.role, kind: p.kind });
  });

  app.get("/api/plans", async (c) => c.json(await withDashboard(deps, plansOf(deps))));

  app.post("/api/plans/:plan/backup", async (c) => {
    const plan = knownPlan(deps.config, c.req.param("plan"));
    const body = backupRequest.parse(await jsonBody(c, {}));
    let run: DaemonRun;
    try {
      run = deps.runs.start(plan, { dryRun: body.dry_run, by: c.get("principal").name });
    } catch (e) {
      if (e instanceof PlanBusyError) throw new HttpError(409, e.message);
      throw e;
    }
    audit(c, "backup", plan, { run_id: run.runId, dry_run: body.dry_run });
    return c.json({ run_id: run.runId }, 202);
  });

  app.get("/api/runs", (c) => {
    const q = runsQuery.parse(c.req.query());
    const stored = deps.history.page(q);
    const storedIds = new Set(stored.map((r) => r.runId));
    // Runs queued here are not in the history yet: they lead the first page.
    const pending =
      q.before === undefined && (q.status === undefined || q.status === "running")
        ? deps.runs
            .current()
            .filter(
              (r) =>
                !r.dryRun && !storedIds.has(r.runId) && deps.history.get(r.runId) === undefined,
            )
            .filter((r) => q.plan === undefined || r.plan === q.plan)
            .map(pendingRun)
        : [];
    return c.json([...pending, ...stored.map((r) => runOf(r, deps))].slice(0, q.limit));
  });

  app.get("/api/runs/:id", (c) => {
    const id = c.req.param("id");
    const rec = deps.history.get(id);
    const mine = deps.runs.get(id);
    if (!rec && !mine) throw new HttpError(404, `no run "${id}"`);
    const events = deps.history.runEvents(id, 200).map((e) => ({ ...e.event, run_id: id }));
    const detail: RunDetailResponse = {
      ...(rec ? runOf(rec, deps) : pendingRun(mine as DaemonRun)),
      warnings: rec?.warnings ?? [],
      log_tail: rec?.logTail ?? mine?.stderrTail ?? [],
      events,
    };
    return c.json(detail);
  });

  app.post("/api/runs/:id/cancel", (c) => {
    const id = c.req.param("id");
    if (!deps.runs.get(id) && !deps.history.get(id)) throw new HttpError(404, `no run "${id}"`);
    // A run started elsewhere (CLI, timer) is stopped the way a user stops it: SIGTERM.
    if (!deps.runs.cancel(id) && !cancelExternalRun(deps.history, id))
      throw new HttpError(409, `run "${id}" is not running`);
    audit(c, "cancel", id);
    return c.json({ ok: true }, 202);
  });

  app.get("/api/events", (c) => {
    const plan = c.req.query("plan");
    const runId = c.req.query("run_id");
    // Resume: EventSource sends the last id it saw; `since=0` replays what the history keeps.
    const sinceText = c.req.header("last-event-id") ?? c.req.query("since");
    const since =
      sinceText === undefined ? undefined : z.coerce.number().int().min(0).parse(sinceText);
    const wanted = (m: { plan: string; runId?: string; run_id?: string }): boolean =>
      (plan === undefined || m.plan === plan) &&
      (runId === undefined || (m.run_id ?? m.runId) === runId);
    return streamSSE(c, async (stream) => {
      let closed = false;
      // Live events that arrive while the replay is written wait here, in order.
      let buffered: string[] | undefined = since === undefined ? undefined : [];
      const send = (data: string, id?: string): void => {
        if (closed) return;
        stream.writeSSE(id === undefined ? { data } : { data, id }).catch(() => (closed = true));
      };
      const unsubscribe = deps.bus.subscribe((m: RunMessage) => {
        if (!wanted(m)) return;
        const data = JSON.stringify(m.event);
        if (buffered) buffered.push(data);
        else send(data);
      });
      await stream.writeSSE({ event: "hello", data: JSON.stringify({ ok: true }) });
      if (since !== undefined && buffered) {
        const replayed = new Set<string>();
        for (let after = since; ;) {
          const batch = deps.history.eventsAfter(after, 500);
          for (const e of batch) {
            after = e.seq;
            if (!wanted(e)) continue;
            const data = JSON.stringify({ ...e.event, run_id: e.runId, plan: e.plan });
            replayed.add(data);
            send(data, String(e.seq));
          }
          if (batch.length < 500) break;
        }
        const live = buffered;
        buffered = undefined;
        for (const data of live) if (!replayed.has(data)) send(data);
      }
      await new Promise<void>((resolve) => {
        const done = (): void => resolve();
        stream.onAbort(done);
        if (deps.shutdown.aborted) done();
        deps.shutdown.addEventListener("abort", done, { once: true });
        // Proxies drop idle connections: a comment line every 30 s keeps it open.
        const keepAlive = setInterval(() => {
          stream.write(": keep-alive\n\n").catch(() => done());
        }, 30_000);
        void new Promise<void>((r) => stream.onAbort(r)).then(() => clearInterval(keepAlive));
        deps.shutdown.addEventListener("abort", () => clearInterval(keepAlive), { once: true });
      });
      closed = true;
      unsubscribe();
    });
  });

  app.get("/api/status", (c) =>
    c.json({
      version: VERSION,
      running: [
        ...deps.history.runsInProgress().map((r) => runOf(r, deps)),
        ...deps.runs
          .current()
          .filter((r) => r.state === "queued")
          .map(pendingRun),
      ],
      plans: plansOf(deps),
      scheduler: deps.scheduler,
      problems: deps.problems ?? [],
    }),
  );

  app.get("/api/config", (c) =>
    c.json({ config: redactConfig(deps.config), problems: deps.problems ?? [] }),
  );

  app.get("/api/audit", (c) => {
    if (c.get("principal").role !== "admin")
      throw new HttpError(403, "the audit trail needs the admin role");
    const limit = z.coerce.number().int().min(1).max(1000).default(100).parse(c.req.query("limit"));
    return c.json(deps.history.audit(limit));
  });

  app.get("/api/openapi.json", (c) => c.json(openApiDocument(deps.basePath)));

  app.get("/metrics", async (c) => {
    const file = deps.config.metrics?.textfile;
    let text = "# snapback: set [metrics] textfile to expose run metrics here\n";
    if (file !== undefined)
      text = await readFile(file, "utf8").catch(() => "# no run has written metrics yet\n");
    return c.text(text, 200, { "content-type": "text/plain; version=0.0.4" });
  });

  mountRepoRoutes(app, deps, deps.runs);
  deps.mountWeb?.(app);
  return root;
}

export class HttpError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 429 | 500,
    message: string,
  ) {
    super(message);
  }
}

async function jsonBody(c: Context, fallback?: unknown): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "" && fallback !== undefined) return fallback;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, "the request body is not JSON");
  }
}

function zodMessage(e: z.ZodError): string {
  return e.issues
    .map((i) => {
      const key =
        i.path.join(".") || (i.code === "unrecognized_keys" ? i.keys.join(", ") : "(body)");
      return `${key}: ${i.message}`;
    })
    .join("; ");
}

function clientAddress(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? "local";
}

function knownPlan(config: Config, plan: string): string {
  if (!Object.hasOwn(config.plans, plan)) throw new HttpError(404, `no plan "${plan}"`);
  return plan;
}

function plansOf(deps: AppDeps): PlanResponse[] {
  const latest = new Map(deps.history.latestPerPlan().map((r) => [r.plan, r]));
  const running = new Set([
    ...deps.history.runsInProgress().map((r) => r.plan),
    ...deps.runs
      .current()
      .filter((r) => !r.dryRun)
      .map((r) => r.plan),
  ]);
  return Object.entries(deps.config.plans).map(([name, p]) => {
    const last = latest.get(name);
    const next = deps.nextRun?.(name);
    return {
      name,
      sources: p.sources,
      repositories: p.repositories,
      schedule: p.schedule ?? null,
      last_run: last
        ? { run_id: last.runId, status: last.status, time: last.endedAt ?? last.startedAt }
        : null,
      next_run: next ? next.toISOString() : null,
      running: running.has(name),
    };
  });
}

function runOf(r: RunRecord, deps: AppDeps): RunResponse {
  const progress =
    r.status === "running"
      ? (deps.history
          .runEvents(r.runId, 50)
          .filter((e) => e.event.type === "progress")
          .at(-1)?.event ?? null)
      : null;
  return {
    run_id: r.runId,
    plan: r.plan,
    status: r.status,
    started_at: r.startedAt,
    ended_at: r.endedAt,
    repositories: r.repositories,
    snapshot_ids: r.snapshotIds,
    summaries: Object.fromEntries(
      Object.entries(r.summaries).map(([repo, s]) => [
        repo,
        {
          files_new: s.filesNew,
          files_changed: s.filesChanged,
          files_unmodified: s.filesUnmodified,
          data_added: s.dataAdded,
          duration_s: s.durationS,
          ...(s.errorCount === undefined ? {} : { error_count: s.errorCount }),
        },
      ]),
    ),
    error: r.error,
    progress,
    started_by: deps.runs.get(r.runId)?.by ?? null,
  };
}

function pendingRun(r: DaemonRun): RunResponse {
  return {
    run_id: r.runId,
    plan: r.plan,
    status: r.state === "queued" ? "queued" : "running",
    started_at: null,
    ended_at: null,
    repositories: [],
    snapshot_ids: {},
    summaries: {},
    error: null,
    progress: null,
    started_by: r.by,
  };
}
