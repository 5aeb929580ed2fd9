import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { notifyFinish, notifyStart } from "./index.js";
import { captureStderr, channel, report, TestServer } from "./test-support.js";

const TOKEN = "tk_s3cr3tAccessToken0123";
let dir: string;
let tokenFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "snapback-test-ntfy-"));
  tokenFile = join(dir, "token");
  await writeFile(tokenFile, `${TOKEN}\nsecond line ignored\n`, { mode: 0o600 });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("ntfy", () => {
  test("failure: POST to the topic with title, high priority, tags and the bearer token", async () => {
    await using server = await TestServer.start();
    const ch = channel({
      type: "ntfy",
      url: server.url,
      topic: "backups-x7",
      token_file: tokenFile,
    });
    expect(await notifyFinish([ch], report("failed"))).toEqual([]);
    expect(server.requests).toHaveLength(1);
    const req = server.requests[0];
    expect(req?.method).toBe("POST");
    expect(req?.path).toBe("/backups-x7");
    expect([...(req?.query ?? [])]).toEqual([]);
    expect(req?.headers["title"]).toBe("snapback home: backup FAILED");
    expect(req?.headers["priority"]).toBe("4");
    expect(req?.headers["tags"]).toBe("rotating_light,snapback");
    expect(req?.headers["authorization"]).toBe(`Bearer ${TOKEN}`);
    expect(req?.body).toMatch(
      /^plan home, run 20261122T024000Z-ab12: failed in 1:23\nerror: offsite/,
    );
  });

  test("success is not sent by default; with on=success it carries the configured priority", async () => {
    await using server = await TestServer.start();
    const quiet = channel({ type: "ntfy", url: server.url, topic: "t1" });
    const loud = channel({
      type: "ntfy",
      url: `${server.url}/ntfy/`,
      topic: "t2",
      priority: "urgent",
      on: ["start", "success"],
    });
    await notifyStart([quiet, loud], { plan: "home", run_id: "r1" });
    await notifyFinish([quiet, loud], report("success"));
    expect(server.requests.map((r) => r.path)).toEqual(["/ntfy/t2", "/ntfy/t2"]);
    const [start, success] = server.requests;
    expect(start?.headers["title"]).toBe("snapback home: backup started");
    expect(start?.headers["tags"]).toBe("arrow_forward,snapback");
    expect(start?.headers["priority"]).toBe("5");
    expect(success?.headers["title"]).toBe("snapback home: backup succeeded");
    expect(success?.headers["tags"]).toBe("white_check_mark,snapback");
    expect(success?.headers["priority"]).toBe("5");
    expect(success?.headers["authorization"]).toBeUndefined();
  });

  test("partial: warning tag, default priority 4, warnings in the message", async () => {
    await using server = await TestServer.start();
    const ch = channel({ type: "ntfy", url: server.url, topic: "t", priority: 2 });
    await notifyFinish([ch], report("partial"));
    const req = server.requests[0];
    expect(req?.headers["tags"]).toBe("warning,snapback");
    expect(req?.headers["priority"]).toBe("2");
    expect(req?.headers["title"]).toBe("snapback home: backup partially succeeded");
    expect(req?.body).toContain("local: snapshot 1a2b3c4d");
    expect(req?.body).toContain(", 2 unreadable");
    expect(req?.body).toContain("warning: /home/a/locked: permission denied");
  });

  test("a token file other users can read is refused: nothing sent, failure reported", async () => {
    await using server = await TestServer.start();
    const open = join(dir, "open-token");
    await writeFile(open, `${TOKEN}\n`, { mode: 0o644 });
    const ch = channel({ type: "ntfy", url: server.url, topic: "t", token_file: open });
    using stderr = captureStderr();
    const failures = await notifyFinish([ch], report("failed"));
    expect(server.requests).toHaveLength(0);
    expect(failures).toHaveLength(1);
    expect(failures[0]?.reason).toContain(
      `token_file ${open} is readable by other users (mode 644)`,
    );
    expect(failures[0]?.attempts).toBe(0);
    expect(stderr.text()).toContain("chmod 600");
    expect(stderr.text()).not.toContain(TOKEN);
  });

  test("a missing token file is a reported failure", async () => {
    await using server = await TestServer.start();
    const ch = channel({
      type: "ntfy",
      url: server.url,
      topic: "t",
      token_file: join(dir, "nope"),
    });
    using _stderr = captureStderr();
    const failures = await notifyFinish([ch], report("failed"));
    expect(failures[0]?.reason).toBe(`token_file ${join(dir, "nope")} cannot be read (ENOENT)`);
    expect(server.requests).toHaveLength(0);
  });
});
