import { describe, expect, test } from "vitest";
import { notifyFinish, notifyStart } from "./index.js";
import { channel, report, TestServer } from "./test-support.js";

describe("webhook", () => {
  test("failure: POST of the result and summaries as JSON with the configured headers", async () => {
    await using server = await TestServer.start();
    const hook = channel({
      type: "webhook",
      url: `${server.url}/hooks/abc?key=k1`,
      headers: { "X-Token": "hdr-secret-value" },
    });
    const failed = report("failed");
    expect(await notifyFinish([hook], failed)).toEqual([]);
    const req = server.requests[0];
    expect(req?.method).toBe("POST");
    expect(req?.path).toBe("/hooks/abc");
    expect(req?.query.get("key")).toBe("k1");
    expect(req?.headers["content-type"]).toBe("application/json");
    expect(req?.headers["x-token"]).toBe("hdr-secret-value");
    expect(JSON.parse(req?.body ?? "")).toEqual({
      event: "snapback.run",
      result: failed.result,
      summaries: failed.summaries,
    });
  });

  test("success is sent only when listed in on; start sends the plan and run id", async () => {
    await using server = await TestServer.start();
    const byDefault = channel({ type: "webhook", url: `${server.url}/a` });
    const all = channel({ type: "webhook", url: `${server.url}/b`, on: ["start", "success"] });
    await notifyStart([byDefault, all], {
      plan: "home",
      run_id: "r1",
      sources: ["/home"],
      repositories: ["local"],
    });
    await notifyFinish([byDefault, all], report("success"));
    expect(server.requests.map((r) => r.path)).toEqual(["/b", "/b"]);
    expect(JSON.parse(server.requests[0]?.body ?? "")).toEqual({
      event: "snapback.start",
      plan: "home",
      run_id: "r1",
      sources: ["/home"],
      repositories: ["local"],
    });
    expect(JSON.parse(server.requests[1]?.body ?? "")).toMatchObject({
      event: "snapback.run",
      result: { status: "success", plan: "home" },
    });
  });
});
