import { describe, expect, test } from "vitest";
import { registerSecret } from "../log.js";
import { HEALTHCHECKS_BODY_LIMIT, runUuid } from "./healthchecks.js";
import { notifyFinish, notifyStart } from "./index.js";
import { channel, report, TestServer } from "./test-support.js";

const UUID = "5bb2a5c3-0a45-4c7e-9d7a-1f2e3d4c5b6a";
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("healthchecks", () => {
  test("start, success and failure pings pair up by run id", async () => {
    await using server = await TestServer.start();
    const hc = channel({ type: "healthchecks", url: `${server.url}/ping/${UUID}` });
    const ok = report("success");
    const ctx = {
      plan: "home",
      run_id: ok.result.run_id,
      sources: ["/home"],
      repositories: ["local"],
    };

    expect(await notifyStart([hc], ctx)).toEqual([]);
    expect(await notifyFinish([hc], ok)).toEqual([]);
    expect(await notifyFinish([hc], report("failed"))).toEqual([]);

    const [start, success, failure] = server.requests;
    const rid = runUuid(ok.result.run_id);
    expect(rid).toMatch(UUID_RE);

    expect(start?.method).toBe("POST");
    expect(start?.path).toBe(`/ping/${UUID}/start`);
    expect([...(start?.query ?? [])]).toEqual([["rid", rid]]);
    expect(start?.body).toContain("plan home, run 20261122T024000Z-ab12: started");

    expect(success?.method).toBe("POST");
    expect(success?.path).toBe(`/ping/${UUID}`);
    expect([...(success?.query ?? [])]).toEqual([["rid", rid]]);
    expect(success?.headers["content-type"]).toBe("text/plain; charset=utf-8");
    // Log tail first, then the summary last where it is seen without scrolling.
    expect(success?.body).toMatch(
      /^line one\nline two\nlast line\n\nplan home, run \S+: success in 1:23\n/,
    );
    expect(success?.body).toContain(
      "local: snapshot 1a2b3c4d, files 12 new, 3 changed, 1000 unmodified",
    );

    expect(failure?.method).toBe("POST");
    expect(failure?.path).toBe(`/ping/${UUID}/fail`);
    expect(failure?.query.get("rid")).toBe(rid);
    expect(failure?.body).toContain("error: offsite: repository unreachable");
    expect(failure?.body).toContain("offsite: FAILED: repository unreachable");
  });

  test("partial pings exit status 3, interrupted pings /fail; the URL's own query is kept", async () => {
    await using server = await TestServer.start();
    const hc = channel({ type: "healthchecks", url: `${server.url}/${UUID}/?create=1` });
    await notifyFinish([hc], report("partial"));
    await notifyFinish([hc], report("interrupted"));
    expect(server.requests.map((r) => r.path)).toEqual([`/${UUID}/3`, `/${UUID}/fail`]);
    expect(server.requests.map((r) => r.query.get("create"))).toEqual(["1", "1"]);
  });

  test("a long log keeps its newest lines within the body limit", async () => {
    await using server = await TestServer.start();
    const hc = channel({ type: "healthchecks", url: `${server.url}/${UUID}` });
    const big = report("success");
    const logTail = Array.from({ length: 5000 }, (_, i) => `log line ${i} ${"é".repeat(40)}`);
    await notifyFinish([hc], { ...big, logTail });
    const body = server.requests[0]?.body ?? "";
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(HEALTHCHECKS_BODY_LIMIT);
    expect(Buffer.byteLength(body)).toBeGreaterThan(HEALTHCHECKS_BODY_LIMIT - 200);
    expect(body).toMatch(/^\[\.\.\. \d+ bytes cut \.\.\.\]\n/);
    expect(body).not.toContain("log line 0 ");
    expect(body).toContain(`log line 4999 ${"é".repeat(40)}\n\nplan home`);
    expect(body).not.toContain("\uFFFD");
  });

  test("a known secret in the log tail is redacted before it leaves the machine", async () => {
    await using server = await TestServer.start();
    registerSecret("repo-passw0rd-xyz");
    const hc = channel({ type: "healthchecks", url: `${server.url}/${UUID}` });
    await notifyFinish([hc], { ...report("success"), logTail: ["using repo-passw0rd-xyz oops"] });
    expect(server.requests[0]?.body).toMatch(/^using \*\*\* oops\n/);
  });

  test("run ids become stable, distinct UUIDs; a UUID run id is used as is", () => {
    expect(runUuid("20261122T024000Z-ab12")).toBe(runUuid("20261122T024000Z-ab12"));
    expect(runUuid("20261122T024000Z-ab12")).not.toBe(runUuid("20261122T024000Z-ab13"));
    expect(runUuid(UUID.toUpperCase())).toBe(UUID);
  });
});
