import { readFile } from "node:fs/promises";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import type { Config } from "../config/schema.js";
import { UsageError } from "../errors.js";
import { run } from "../exec/index.js";
import { HISTORY_FILE, openHistory } from "../history/index.js";
import type { HistoryStore } from "../history/store.js";
import { log } from "../log.js";
import { describeEntry, reclaimOrphans } from "../run/reclaim.js";
import { withInterrupts } from "../core/signals.js";
import { createApp, type Env } from "./app.js";
import { LoginLimiter, Sessions } from "./auth.js";
import { RunEventBus } from "./bus.js";
import { RunManager, type ChildCommand } from "./runner.js";
import { Scheduler } from "./scheduler.js";
import { DEFAULT_SERVER, type ServerConfig } from "./schema.js";
import { UsersStore } from "./users.js";
import { mountWeb } from "./web.js";
import { join } from "node:path";
import { HistoryWatcher } from "./watch.js";
import type { Hono } from "hono";

export interface DaemonOptions {
  config: Config;
  /** `--listen` overrides `[server] listen`. */
  listen?: string;
  child: ChildCommand;
  /** Told the address once the daemon accepts connections (the "ready" line). */
  onReady?: (url: string) => void;
  /**
   * Services that live as long as the daemon and follow its runs (issue 14: the D-Bus service
   * subscribes to `bus` and starts/cancels runs through `runs`). Disposed at shutdown, after
   * the runs have stopped.
   */
  attach?: (daemon: {
    config: Config;
    bus: RunEventBus;
    runs: RunManager;
    history: HistoryStore;
  }) => Promise<AsyncDisposable | undefined>;
}

/** Splits "host:port" / "[v6]:port" / ":port". */
export function parseListen(text: string, key: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]*)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535)
    throw new UsageError(`${key}: "${text}" is not an address like "127.0.0.1:8470"`);
  return { host: m[1] ?? (m[2] || "0.0.0.0"), port };
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Refuses what would expose the API in clear to the network (exit 2, naming the key). */
export function checkExposure(server: ServerConfig, listen: string, key: string): void {
  const { host } = parseListen(listen, key);
  if (isLoopback(host) || server.tls_cert !== undefined || server.allow_plain_http) return;
  throw new UsageError(
    `${key}: "${listen}" is not a loopback address and [server] has no tls_cert/tls_key: passwords and tokens would cross the network in clear`,
    {
      hint: "set server.tls_cert and server.tls_key, or server.allow_plain_http = true behind a TLS proxy",
    },
  );
}

/**
 * `snapback serve`: the HTTP API, the scheduler and live events, in the foreground until
 * SIGTERM/SIGINT. Then running backups are stopped like the CLI stops them (SIGINT, cleanup,
 * status interrupted) and the daemon exits 0.
 */
export async function runDaemon(opts: DaemonOptions): Promise<number> {
  const { config } = opts;
  const server = config.server ?? DEFAULT_SERVER;
  const listenKey = opts.listen === undefined ? "server.listen" : "--listen";
  const listen = opts.listen ?? server.listen;
  checkExposure(server, listen, listenKey);
  const { host, port } = parseListen(listen, listenKey);
  const tls =
    server.tls_cert !== undefined && server.tls_key !== undefined
      ? {
          cert: await readTlsFile(server.tls_cert, "server.tls_cert"),
          key: await readTlsFile(server.tls_key, "server.tls_key"),
        }
      : undefined;

  using history = openHistory(config.state_dir);
  // Whatever runs killed with the previous daemon (or before) left behind goes first.
  for (const r of await reclaimOrphans(config.state_dir)) {
    const what = describeEntry(r.entry);
    if (r.error) log.warn(`could not remove leftover ${what} of run ${r.runId}: ${r.error}`);
    else log.info(`removed leftover ${what} of run ${r.runId}`);
  }
  const bus = new RunEventBus((e) => log.warn(`event listener failed: ${String(e)}`));
  const runs = new RunManager({
    child: opts.child,
    maxParallel: server.max_parallel,
    bus,
    history,
    onError: (m) => log.warn(m),
  });
  using watcher = new HistoryWatcher(
    history,
    join(config.state_dir, HISTORY_FILE),
    bus,
    (id) => runs.owns(id),
    (e) => log.warn(`history watch: ${String(e)}`),
  );
  watcher.start();
  await using attached = opts.attach
    ? await opts.attach({ config, bus, runs, history })
    : undefined;
  void attached;
  const scheduler = server.scheduler
    ? await Scheduler.create({ config, server, history, runs, log })
    : undefined;
  const shutdown = new AbortController();
  const app = createApp({
    config,
    history,
    users: UsersStore.forConfig(config.state_dir, server.users_file),
    sessions: new Sessions(server.session_hours * 3600_000),
    limiter: new LoginLimiter(),
    runs,
    bus,
    ...(scheduler ? { nextRun: (p: string) => scheduler.nextRun(p) } : {}),
    scheduler: scheduler !== undefined,
    problems: (scheduler?.conflicts ?? []).map(
      (c) =>
        `plans.${c.plan}.schedule: also scheduled by the systemd timer ${c.timer}; the daemon leaves the plan to it`,
    ),
    tls: tls !== undefined,
    basePath: server.base_path,
    shutdown: shutdown.signal,
    mountWeb: (a: Hono<Env>) => mountWeb(a, server.base_path),
    log: (m) => log.warn(m),
  });

  const { interruptedBy } = await withInterrupts(async (signal) => {
    const httpServer = await listenOn(app, host, port, tls);
    try {
      const address = httpServer.address() as AddressInfo;
      const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
      const url = `${tls ? "https" : "http"}://${shownHost}:${address.port}${server.base_path}`;
      log.info(`snapback serve: listening on ${url}`);
      opts.onReady?.(url);
      await notifySystemd("READY=1");
      scheduler?.start();
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        signal.addEventListener("abort", () => resolve(), { once: true });
      });
      await notifySystemd("STOPPING=1");
      scheduler?.stop();
      log.info("snapback serve: stopping running backups");
      await runs.stopAll();
    } finally {
      scheduler?.stop();
      shutdown.abort();
      await new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        // Keep-alive connections would hold close() open.
        (httpServer as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
    }
  });
  log.info(`snapback serve: stopped${interruptedBy ? ` (${interruptedBy})` : ""}`);
  return 0;
}

function listenOn(
  app: Hono<Env>,
  hostname: string,
  port: number,
  tls: { cert: Buffer; key: Buffer } | undefined,
): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve(
      {
        fetch: app.fetch,
        hostname,
        port,
        ...(tls ? { createServer: createHttpsServer, serverOptions: tls } : {}),
      },
      () => resolve(server),
    );
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(new UsageError(`cannot listen on ${hostname}:${port}: ${e.code ?? e.message}`)),
    );
  });
}

async function readTlsFile(path: string, key: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new UsageError(
      `${key}: cannot read "${path}": ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
}

/**
 * systemd Type=notify. Node cannot send on a unix datagram socket, so systemd-notify does,
 * naming our pid (the unit needs NotifyAccess=all, see the README).
 */
async function notifySystemd(state: string): Promise<void> {
  if (!process.env["NOTIFY_SOCKET"]) return;
  const r = await run("systemd-notify", [`--pid=${process.pid}`, state], { reject: false }).catch(
    () => undefined,
  );
  if (r?.exitCode !== 0)
    log.warn(`systemd-notify ${state} failed: ${r?.stderr.trim() ?? "not found"}`);
}
