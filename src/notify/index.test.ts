import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { notifyFinish, notifyStart } from "./index.js";
import { captureStderr, channel, report, TestServer } from "./test-support.js";

const fast = { backoffMs: 5 };

describe("on filtering", () => {
  test("each channel hears only the events in its on (defaults per type)", async () => {
    await using server = await TestServer.start();
    const chans = [
      channel({ type: "healthchecks", url: `${server.url}/hc` }),
      channel({ type: "uptime-kuma", url: `${server.url}/kuma` }),
      channel({ type: "ntfy", url: server.url, topic: "ntfy" }),
      channel({ type: "webhook", url: `${server.url}/hook` }),
      channel({ type: "webhook", url: `${server.url}/partial-only`, on: ["partial"] }),
    ];
    const paths = async (f: () => Promise<unknown>): Promise<string[]> => {
      server.requests.length = 0;
      await f();
      return server.requests.map((r) => r.path).sort();
    };
    expect(await paths(() => notifyStart(chans, { plan: "home", run_id: "r" }))).toEqual([
      "/hc/start",
    ]);
    expect(await paths(() => notifyFinish(chans, report("success")))).toEqual(["/hc", "/kuma"]);
    expect(await paths(() => notifyFinish(chans, report("failed")))).toEqual([
      "/hc/fail",
      "/hook",
      "/kuma",
      "/ntfy",
    ]);
    expect(await paths(() => notifyFinish(chans, report("interrupted")))).toEqual([
      "/hc/fail",
      "/hook",
      "/kuma",
      "/ntfy",
    ]);
    expect(await paths(() => notifyFinish(chans, report("partial")))).toEqual([
      "/hc/3",
      "/hook",
      "/kuma",
      "/ntfy",
      "/partial-only",
    ]);
  });
});

describe("delivery failures never throw", () => {
  test("a server that never answers: each attempt times out, bounded retries, failure returned", async () => {
    await using server = await TestServer.start("hang");
    const hc = channel({ type: "healthchecks", url: `${server.url}/hc`, timeout: 0.2, retries: 2 });
    using stderr = captureStderr();
    const failures = await notifyFinish([hc], report("failed"), fast);
    expect(server.requests).toHaveLength(3);
    expect(failures).toEqual([
      {
        type: "healthchecks",
        host: new URL(server.url).host,
        event: "failure",
        reason: "no response within 0.2s",
        attempts: 3,
      },
    ]);
    expect(stderr.text()).toBe(
      `warning: notify: healthchecks (${new URL(server.url).host}): could not send the failure notification after 3 attempts: no response within 0.2s\n`,
    );
  });

  test("HTTP 500 is retried, then reported; 404 is not retried", async () => {
    await using server = await TestServer.start(500);
    const hook = channel({ type: "webhook", url: `${server.url}/h`, retries: 3 });
    using _stderr = captureStderr();
    const failures = await notifyFinish([hook], report("failed"), fast);
    expect(server.requests).toHaveLength(4);
    expect(failures.map((f) => [f.reason, f.attempts])).toEqual([
      ["HTTP 500 Internal Server Error", 4],
    ]);

    server.requests.length = 0;
    server.behaviour = 404;
    const notFound = await notifyFinish([hook], report("failed"), fast);
    expect(server.requests).toHaveLength(1);
    expect(notFound.map((f) => [f.reason, f.attempts])).toEqual([["HTTP 404 Not Found", 1]]);
  });

  test("a server that recovers: the retry succeeds and nothing is reported", async () => {
    await using server = await TestServer.start(503);
    const kuma = channel({ type: "uptime-kuma", url: `${server.url}/api/push/x`, retries: 2 });
    // Answer 503 to the first attempt only.
    const ready = notifyFinish([kuma], report("success"), { backoffMs: 200 });
    await waitFor(() => server.requests.length === 1);
    server.behaviour = "ok";
    expect(await ready).toEqual([]);
    expect(server.requests).toHaveLength(2);
  });

  test("nobody listening: a network error, retried, reported", async () => {
    const port = await freePort();
    const ntfy = channel({ type: "ntfy", url: `http://127.0.0.1:${port}`, topic: "t", retries: 1 });
    using _stderr = captureStderr();
    const failures = await notifyFinish([ntfy], report("failed"), fast);
    expect(failures.map((f) => [f.reason, f.attempts])).toEqual([
      ["network error (ECONNREFUSED)", 2],
    ]);
  });

  test("a hanging channel does not keep the others from being notified", async () => {
    await using hanging = await TestServer.start("hang");
    await using healthy = await TestServer.start();
    using _stderr = captureStderr();
    const failures = await notifyFinish(
      [
        channel({ type: "webhook", url: `${hanging.url}/slow`, timeout: 0.3, retries: 0 }),
        channel({ type: "webhook", url: `${healthy.url}/fine` }),
      ],
      report("failed"),
      fast,
    );
    expect(failures.map((f) => f.host)).toEqual([new URL(hanging.url).host]);
    expect(healthy.requests.map((r) => r.path)).toEqual(["/fine"]);
  });
});

describe("secrets", () => {
  test("no URL path, topic, token or header value reaches the log, only type and host", async () => {
    const dir = await mkdtemp(join(tmpdir(), "snapback-test-notify-"));
    try {
      const token = "tk_NtfyTokenValue9876";
      await writeFile(join(dir, "token"), token, { mode: 0o600 });
      await using server = await TestServer.start(500);
      const secrets = [
        "hc-uuid-0f3e9b",
        "kumaPushTok3n",
        "topicSecret77",
        token,
        "WebhookHeaderValue",
        "hookPathToken",
      ];
      const chans = [
        channel({ type: "healthchecks", url: `${server.url}/hc-uuid-0f3e9b`, retries: 1 }),
        channel({ type: "uptime-kuma", url: `${server.url}/api/push/kumaPushTok3n`, retries: 1 }),
        channel({
          type: "ntfy",
          url: server.url,
          topic: "topicSecret77",
          token_file: join(dir, "token"),
          retries: 1,
        }),
        channel({
          type: "webhook",
          url: `${server.url}/hookPathToken`,
          headers: { Authorization: "WebhookHeaderValue" },
          retries: 1,
        }),
      ];
      using stderr = captureStderr();
      const failures = await notifyFinish(chans, report("failed"), fast);
      expect(server.requests).toHaveLength(8);
      expect(failures).toHaveLength(4);
      const host = new URL(server.url).host;
      for (const type of ["healthchecks", "uptime-kuma", "ntfy", "webhook"]) {
        expect(stderr.text()).toContain(`notify: ${type} (${host}): could not send`);
      }
      const returned = JSON.stringify(failures);
      for (const s of secrets) {
        expect(stderr.text()).not.toContain(s);
        expect(returned).not.toContain(s);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("an invalid header value is reported without quoting it", async () => {
    await using server = await TestServer.start();
    // The schema refuses this; a caller that skipped it gets a reported failure, no throw.
    const hook = {
      ...channel({ type: "webhook", url: `${server.url}/h` }),
      headers: { "X-Key": "sécret-ключ-value" },
    };
    using stderr = captureStderr();
    const failures = await notifyFinish([hook], report("failed"), fast);
    expect(server.requests).toHaveLength(0);
    expect(failures.map((f) => f.attempts)).toEqual([1]);
    expect(stderr.text()).toContain("notify: webhook");
    expect(stderr.text()).not.toContain("ключ");
    expect(JSON.stringify(failures)).not.toContain("ключ");
  });
});

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error("condition not met");
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const addr = srv.address();
  await new Promise<void>((r) => srv.close(() => r()));
  if (addr === null || typeof addr === "string") throw new Error("no port");
  return addr.port;
}
