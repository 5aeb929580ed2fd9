import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { createWorld } from "./fixtures/cli.js";

interface Seen {
  method: string;
  url: string;
  body: string;
}

/** A local HTTP server that records every request; `status` decides the answer. */
async function recorder(status = 200): Promise<{ url: string; seen: Seen[] } & AsyncDisposable> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", body });
      res.statusCode = status;
      res.end("OK");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    [Symbol.asyncDispose]: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe("notifications and metrics in a run", () => {
  test("Healthchecks start + success pings with the log tail; metrics file written", async () => {
    await using hc = await recorder();
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x");
    const prom = join(w.dir, "snapback.prom");
    await w.writeConfig(
      `${w.basicConfig([w.data])}\n[[plans.p.notify]]\ntype = "healthchecks"\nurl = "${hc.url}/ping/check-token-123"\n\n[metrics]\ntextfile = "${prom}"\n`,
    );
    const r = await w.cli(["backup"]);
    expect(r.exitCode).toBe(0);
    expect(hc.seen.map((s) => `${s.method} ${s.url.replace(/rid=[0-9a-f-]+/, "rid=RID")}`)).toEqual(
      ["POST /ping/check-token-123/start?rid=RID", "POST /ping/check-token-123?rid=RID"],
    );
    expect(hc.seen[1]?.body).toMatch(/result: success/);
    const rid = (s: Seen | undefined): string | undefined =>
      /rid=([0-9a-f-]+)/.exec(s?.url ?? "")?.[1];
    expect(rid(hc.seen[0])).toBe(rid(hc.seen[1]));
    const metrics = await readFile(prom, "utf8");
    expect(metrics).toMatch(/^snapback_last_run_status\{plan="p",status="success"\} 1$/m);
    expect(metrics).toMatch(/^# TYPE snapback_last_run_status gauge$/m);
    const shown = await w.cli(["config", "show"]);
    expect(shown.stdout).not.toContain("check-token-123");
  });

  test("a failing run pings /fail; a notification server answering 500 does not fail the run", async () => {
    await using hc = await recorder(500);
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x");
    await w.writeConfig(
      `${w.basicConfig([w.data])}\n[[plans.p.notify]]\ntype = "healthchecks"\nurl = "${hc.url}/ping/t"\nretries = 1\ntimeout = 2\n`,
    );
    const ok = await w.cli(["backup"]);
    expect(ok.exitCode).toBe(0);
    expect(ok.stderr).toMatch(/warning: notify: healthchecks \(127\.0\.0\.1:\d+\)/);
    hc.seen.length = 0;
    await w.writeConfig(
      `${w.basicConfig([w.data], 'exclude = ["["]')}\n[[plans.p.notify]]\ntype = "healthchecks"\nurl = "${hc.url}/ping/t"\nretries = 0\n`,
    );
    const failed = await w.cli(["backup"]);
    expect(failed.exitCode).toBe(1);
    expect(hc.seen.map((s) => s.url.replace(/\?.*/, ""))).toEqual([
      "/ping/t/start",
      "/ping/t/fail",
    ]);
    expect(hc.seen[1]?.body).toMatch(/invalid pattern/);
  });
});
