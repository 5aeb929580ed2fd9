import { spawn } from "node:child_process";
import { copyFile, chmod, readFile, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { run } from "../src/exec/index.js";
import { FileLock, lockDir } from "../src/core/lock.js";
import { CLI, createWorld, leftovers, type World } from "./fixtures/cli.js";

/** A webhook receiver that records the JSON bodies it is sent. */
async function webhook(): Promise<{ url: string; bodies: unknown[] } & AsyncDisposable> {
  const bodies: unknown[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      bodies.push(JSON.parse(body));
      res.end("OK");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    bodies,
    [Symbol.asyncDispose]: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** failure + finally hooks of `plan` that append "<hook> <status> <error>" to `log`, and a webhook. */
function reporting(plan: string, log: string, hookUrl: string): string {
  const hooks = ["failure", "finally"]
    .map(
      (when) =>
        `[[plans.${plan}.hooks]]\nwhen = "${when}"\nshell = 'echo "$SNAPBACK_HOOK $SNAPBACK_STATUS $SNAPBACK_ERROR" >> ${log}'`,
    )
    .join("\n");
  return `${hooks}\n[[plans.${plan}.notify]]\ntype = "webhook"\nurl = "${hookUrl}"\n`;
}

interface PlanStatus {
  plan: string;
  latest: { status: string; error: string | null } | null;
}

async function status(w: World): Promise<PlanStatus[]> {
  const r = await w.cli(["--json", "status"]);
  expect(r.exitCode).toBe(0);
  return (JSON.parse(r.stdout) as { plans: PlanStatus[] }).plans;
}

async function lines(file: string): Promise<string[]> {
  return (await readFile(file, "utf8")).trim().split("\n");
}

describe("a plan that cannot run is a failed run of that plan", () => {
  test("two plans, the first with a missing source: the second still runs; the first is recorded, hooked, notified; exit 2", async () => {
    await using hook = await webhook();
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x");
    const missing = join(w.dir, "no-such-source");
    const log = join(w.dir, "hooks.log");
    await w.writeConfig(
      [
        w.basicConfig([w.data]),
        `[plans.bad]\nsources = ["${missing}"]\nrepositories = ["r"]`,
        reporting("bad", log, hook.url),
      ].join("\n"),
    );
    // "bad" first: it must not stop "p".
    const r = await w.cli(["backup", "bad", "p"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`plans.bad.sources: ${missing} does not exist`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const snaps = await w.repo.snapshots();
    expect(snaps.map((s) => s.paths)).toEqual([[w.data]]);

    const cause = `plans.bad.sources: ${missing} does not exist`;
    expect(await lines(log)).toEqual([`failure failed ${cause}`, `finally failed ${cause}`]);
    expect(hook.bodies).toMatchObject([
      { event: "snapback.run", result: { plan: "bad", status: "failed", error: cause } },
    ]);
    const plans = await status(w);
    expect(plans.find((p) => p.plan === "bad")?.latest).toMatchObject({
      status: "failed",
      error: cause,
    });
    expect(plans.find((p) => p.plan === "p")?.latest?.status).toBe("success");
    expect(await leftovers(w)).toEqual([]);
  });

  test("a world-readable password file: a failed run in the history (not the last success), exit 2, nothing created", async () => {
    await using hook = await webhook();
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x");
    const log = join(w.dir, "hooks.log");
    const base = `${w.basicConfig([w.data])}\n${reporting("p", log, hook.url)}`;
    await w.writeConfig(base);
    expect((await w.cli(["backup"])).exitCode).toBe(0);

    const open = join(w.dir, "open.pass");
    await copyFile(w.repo.passwordFile, open);
    await chmod(open, 0o644);
    await w.writeConfig(base.replace(w.repo.passwordFile, open));
    const r = await w.cli(["--json", "backup"]);
    expect(r.exitCode).toBe(2);
    const events = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string; status?: string; error?: string });
    const result = events.find((e) => e.type === "result");
    expect(result?.status).toBe("failed");
    expect(result?.error).toMatch(/repositories\.r\.password_file: .*readable by other users/);
    expect(events.some((e) => e.type === "start")).toBe(false);

    expect((await status(w))[0]?.latest).toMatchObject({
      status: "failed",
      error: expect.stringMatching(/readable by other users/) as unknown,
    });
    expect(await lines(log)).toEqual([
      "finally success ",
      expect.stringMatching(/^failure failed repositories\.r\.password_file: /),
      expect.stringMatching(/^finally failed repositories\.r\.password_file: /),
    ]);
    expect(hook.bodies).toMatchObject([{ event: "snapback.run", result: { status: "failed" } }]);
    expect((await w.repo.snapshots()).length).toBe(1);
    expect(await leftovers(w)).toEqual([]);
  });
  test("a plan locked by another run does not keep the next plan from running: exit 4", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x");
    await w.writeConfig(
      `${w.basicConfig([w.data])}\n[plans.held]\nsources = ["${w.data}"]\nrepositories = ["r"]\n`,
    );
    // This test process is alive: to snapback its lock is a run in progress.
    await using held = await FileLock.acquire(lockDir(w.stateDir), "plan-held", 'plan "held"');
    void held;
    const r = await w.cli(["backup", "held", "p"]);
    expect(r.exitCode).toBe(4);
    expect(r.stderr).toContain('plan "held" is locked by another snapback run');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect((await w.repo.snapshots()).length).toBe(1);
    expect(await leftovers(w)).toEqual([]);
  });
});

describe("the first cause survives", () => {
  test("wrong password: named in the result, status, $SNAPBACK_ERROR and the notification", async () => {
    await using hook = await webhook();
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x");
    const wrong = join(w.dir, "wrong.pass");
    await writeFile(wrong, "not the password\n", { mode: 0o600 });
    const log = join(w.dir, "hooks.log");
    await w.writeConfig(
      `${w.basicConfig([w.data]).replace(w.repo.passwordFile, wrong)}\n${reporting("p", log, hook.url)}`,
    );
    const r = await w.cli(["backup"]);
    expect(r.exitCode).toBe(2);
    const cause = /repository "r": wrong password/;
    expect(r.stdout).toMatch(/^p: failed \(repository "r": wrong password/m);
    expect(r.stdout + r.stderr).not.toContain("no repository could be opened");

    const text = await w.cli(["status"]);
    expect(text.stdout).toMatch(/^p: last: failed at .* \(repository "r": wrong password/m);
    expect((await status(w))[0]?.latest?.error).toMatch(cause);
    const [failure, final] = await lines(log);
    expect(failure).toMatch(/^failure failed repository "r": wrong password/);
    expect(final).toMatch(/^finally failed repository "r": wrong password/);
    const body = hook.bodies[0] as { result: { error: string } } | undefined;
    expect(body?.result.error).toMatch(cause);
    expect(JSON.stringify(hook.bodies)).not.toContain("not the password");
    expect(await leftovers(w)).toEqual([]);
  });

  test("after Ctrl-C, $SNAPBACK_ERROR and the history say interrupted by SIGINT", async () => {
    await using hook = await webhook();
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x");
    const log = join(w.dir, "hooks.log");
    const gate = join(w.dir, "gate");
    await run("mkfifo", [gate]);
    // The before hook says "ready" and then blocks on a FIFO nobody writes: the run is
    // certainly in progress when the signal lands.
    await w.writeConfig(
      `${w.basicConfig([w.data])}\n[[plans.p.hooks]]\nwhen = "before"\nname = "gate"\nshell = 'echo ready; read x < ${gate}'\n${reporting("p", log, hook.url)}`,
    );
    const child = spawn(process.execPath, [CLI, "--config", w.configPath, "--verbose", "backup"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    const ready = new Promise<void>((resolve) =>
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes("hook gate: ready")) resolve();
      }),
    );
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    await ready;
    child.kill("SIGINT");
    expect(await exited).toBe(130);

    expect(await lines(log)).toEqual([
      "failure interrupted interrupted by SIGINT",
      "finally interrupted interrupted by SIGINT",
    ]);
    expect((await status(w))[0]?.latest).toMatchObject({
      status: "interrupted",
      error: "interrupted by SIGINT",
    });
    expect(hook.bodies).toMatchObject([
      { event: "snapback.run", result: { status: "interrupted", error: "interrupted by SIGINT" } },
    ]);
    expect(await leftovers(w)).toEqual([]);
  });
});
