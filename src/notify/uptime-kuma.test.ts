import { describe, expect, test } from "vitest";
import { notifyFinish, notifyStart } from "./index.js";
import { channel, report, TestServer } from "./test-support.js";

const TOKEN = "pUsHt0kEn42";

describe("uptime-kuma", () => {
  test("success pushes status=up with a message and the run time in ms", async () => {
    await using server = await TestServer.start();
    const kuma = channel({ type: "uptime-kuma", url: `${server.url}/api/push/${TOKEN}` });
    expect(await notifyFinish([kuma], report("success"))).toEqual([]);
    expect(server.requests).toHaveLength(1);
    const req = server.requests[0];
    expect(req?.method).toBe("GET");
    expect(req?.path).toBe(`/api/push/${TOKEN}`);
    expect(req?.body).toBe("");
    expect(Object.fromEntries(req?.query ?? [])).toEqual({
      status: "up",
      msg: "success in 1:23, 2.4 MiB added to 2 repositories",
      ping: "83250",
    });
  });

  test("failure and partial push status=down; parameters of the UI's URL are replaced", async () => {
    await using server = await TestServer.start();
    const kuma = channel({
      type: "uptime-kuma",
      url: `${server.url}/api/push/${TOKEN}?status=up&msg=OK&ping=`,
    });
    await notifyFinish([kuma], report("failed"));
    await notifyFinish([kuma], report("partial"));
    const [failed, partial] = server.requests;
    expect(failed?.query.getAll("status")).toEqual(["down"]);
    expect(failed?.query.getAll("msg")).toEqual([
      "failed in 1:23: offsite: repository unreachable",
    ]);
    expect(failed?.query.getAll("ping")).toEqual(["83250"]);
    expect(partial?.query.get("status")).toBe("down");
    expect(partial?.query.get("msg")).toMatch(/^partial in 1:23/);
  });

  test("a start sends nothing (push monitors have no start)", async () => {
    await using server = await TestServer.start();
    const kuma = channel({ type: "uptime-kuma", url: `${server.url}/api/push/${TOKEN}` });
    expect(await notifyStart([kuma], { plan: "home", run_id: "r1" })).toEqual([]);
    expect(server.requests).toHaveLength(0);
  });
});
