import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { sampleSummary } from "../../test/fixtures/events.js";
import type { ResultEvent, RunStatus, SummaryEvent } from "../core/events.js";
import { notifyChannelSchema, type NotifyChannel } from "../config/notify.js";
import type { RunReport } from "./types.js";

/** Helpers for this folder's tests (never imported by product code). */

export interface Received {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
}

/** What the server does with a request: answer 200, answer with a status, or never answer. */
export type Behaviour = "ok" | "hang" | number;

/** A real HTTP server on 127.0.0.1 that records every request it gets. */
export class TestServer implements AsyncDisposable {
  readonly requests: Received[] = [];
  private readonly held: ServerResponse[] = [];
  private readonly server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const u = new URL(req.url ?? "/", "http://x");
      this.requests.push({
        method: req.method ?? "",
        path: u.pathname,
        query: u.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      if (this.behaviour === "hang") {
        this.held.push(res);
        return;
      }
      res.statusCode = this.behaviour === "ok" ? 200 : this.behaviour;
      res.end("OK");
    });
  });

  private constructor(public behaviour: Behaviour) {}

  static async start(behaviour: Behaviour = "ok"): Promise<TestServer> {
    const self = new TestServer(behaviour);
    await new Promise<void>((resolve) => self.server.listen(0, "127.0.0.1", resolve));
    return self;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const res of this.held) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A channel as the config loader would produce it (defaults applied). */
export function channel(raw: Record<string, unknown>): NotifyChannel {
  return notifyChannelSchema.parse(raw);
}

export function summary(repository: string, extra: Partial<SummaryEvent> = {}): SummaryEvent {
  return sampleSummary("home", repository, { snapshot_id: "1a2b3c4d5e6f7a8b9c0d", ...extra });
}

export function report(status: RunStatus, extra: Partial<ResultEvent> = {}): RunReport {
  const failed = status === "failed" ? { offsite: "repository unreachable" } : {};
  const summaries =
    status === "failed"
      ? [summary("local")]
      : status === "partial"
        ? [summary("local", { error_count: 2 }), summary("offsite")]
        : [summary("local"), summary("offsite")];
  return {
    result: {
      type: "result",
      plan: "home",
      run_id: "20261122T024000Z-ab12",
      status,
      snapshot_ids: Object.fromEntries(summaries.map((s) => [s.repository, s.snapshot_id])),
      snapshot_skew_ms: 12,
      atomic_groups: [],
      nested: [],
      not_point_in_time: [],
      warnings: status === "partial" ? ["/home/a/locked: permission denied"] : [],
      failed_repositories: failed,
      ...(status === "failed" ? { error: "offsite: repository unreachable" } : {}),
      duration_s: 83.25,
      ...extra,
    },
    summaries,
    logTail: ["line one", "line two", "last line"],
  };
}

/** Everything written to stderr (where log.* writes) while it is active. */
export function captureStderr(): { text(): string } & Disposable {
  const original = process.stderr.write.bind(process.stderr);
  let captured = "";
  process.stderr.write = (chunk: string | Uint8Array): boolean => {
    captured += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    return true;
  };
  return {
    text: () => captured,
    [Symbol.dispose]() {
      process.stderr.write = original;
    },
  };
}
