import { appendFile, readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { InterruptedError, SnapbackError } from "../errors.js";
import { HookFailedError } from "./errors.js";
import type { RunFacts } from "./facts.js";
import { HookRunner } from "./runner.js";
import type { HookConfig } from "../config/hooks.js";
import {
  hook,
  killAll,
  markedSleep,
  processesWith,
  tempDir,
  uniqueMarker,
} from "./test-support.js";

const facts: RunFacts = {
  runId: "20260101T000000Z-beef",
  sources: ["/srv/a", "/srv/b"],
  repositories: ["offsite"],
};

/** A hook that appends "<when>:<name>" to $HOOK_LOG. */
function marker(
  when: HookConfig["when"],
  name: string,
  extra: Partial<HookConfig> = {},
): HookConfig {
  return hook({
    when,
    name,
    shell: 'echo "$SNAPBACK_HOOK:$SNAPBACK_HOOK_NAME:${SNAPBACK_STATUS:-}" >> "$HOOK_LOG"',
    ...extra,
  });
}

function runner(
  hooks: HookConfig[],
  log: string,
  extra: { warnings?: string[]; output?: string[]; killGraceMs?: number } = {},
): HookRunner {
  return new HookRunner(
    "home",
    hooks,
    {
      onOutput: (line, h) => extra.output?.push(`${h.name}/${h.stream}: ${line}`),
      onWarning: (m) => extra.warnings?.push(m),
    },
    {
      baseEnv: {
        PATH: process.env["PATH"] ?? "/usr/bin:/bin",
        HOME: "/home/hooktest",
        HOOK_LOG: log,
      },
      killGraceMs: extra.killGraceMs ?? 2_000,
    },
  );
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

describe("HookRunner: the five points", () => {
  const all = [
    marker("finally", "f1"),
    marker("before", "b1"),
    marker("success", "s1"),
    marker("after_snapshot", "a1"),
    marker("failure", "x1"),
    marker("before", "b2"),
    marker("after_snapshot", "a2"),
  ];

  it("runs before, the snapshots, after_snapshot, the engine, success, finally in that order", async () => {
    await using dir = await tempDir();
    const log = dir.file("log");
    const hooks = runner(all, log);
    const taken = await hooks.aroundSnapshots(facts, async () => {
      await appendFile(log, "take\n");
      return "snapshots";
    });
    expect(taken).toBe("snapshots");
    await appendFile(log, "engine\n");
    const outcomes = await hooks.finish({ ...facts, status: "success" });
    expect(outcomes.map((o) => `${o.when}:${o.name}:${o.ok}`)).toEqual([
      "success:s1:true",
      "finally:f1:true",
    ]);
    expect(await dir.lines("log")).toEqual([
      "before:b1:",
      "before:b2:",
      "take",
      "after_snapshot:a1:",
      "after_snapshot:a2:",
      "engine",
      "success:s1:success",
      "finally:f1:success",
    ]);
  });

  it("runs success hooks for a partial run and failure hooks for a failed or interrupted one", async () => {
    await using dir = await tempDir();
    const hooks = runner(all, dir.file("log"));
    await hooks.finish({ ...facts, status: "partial" });
    await hooks.finish({ ...facts, status: "failed" });
    await hooks.finish({ ...facts, status: "interrupted" });
    expect(await dir.lines("log")).toEqual([
      "success:s1:partial",
      "finally:f1:partial",
      "failure:x1:failed",
      "finally:f1:failed",
      "failure:x1:interrupted",
      "finally:f1:interrupted",
    ]);
  });

  it("does nothing at a point without hooks", async () => {
    await using dir = await tempDir();
    const hooks = runner([marker("before", "b")], dir.file("log"));
    expect(hooks.has("before")).toBe(true);
    expect(hooks.has("finally")).toBe(false);
    expect(await hooks.run("finally", facts)).toEqual([]);
    expect(await dir.lines("log")).toEqual([]);
  });
});

describe("HookRunner: failures", () => {
  it("aborts before any snapshot when a before hook fails, and still runs after_snapshot", async () => {
    await using dir = await tempDir();
    const hooks = runner(
      [
        marker("before", "stop-a"),
        hook({ when: "before", name: "stop-b", shell: 'echo "cannot stop b" >&2; exit 3' }),
        marker("before", "stop-c"),
        marker("after_snapshot", "start"),
      ],
      dir.file("log"),
    );
    let took = false;
    const e = await caught(
      hooks.aroundSnapshots(facts, () => {
        took = true;
        return Promise.resolve();
      }),
    );
    expect(took).toBe(false);
    expect(e).toBeInstanceOf(HookFailedError);
    expect(e).toBeInstanceOf(SnapbackError);
    const err = e as HookFailedError;
    expect(err.exitCode).toBe(1);
    expect(err.message).toBe("before hook stop-b exited with code 3: cannot stop b");
    expect(err.failures.map((o) => o.exitCode)).toEqual([3]);
    expect(err.hint).toMatch(/no snapshot was taken/);
    expect(await dir.lines("log")).toEqual(["before:stop-a:", "after_snapshot:start:"]);
  });

  it("goes on past a failing hook with on_error = continue, with a warning", async () => {
    await using dir = await tempDir();
    const warnings: string[] = [];
    const hooks = runner(
      [
        hook({ when: "before", name: "optional", run: ["false"], on_error: "continue" }),
        marker("before", "next"),
        hook({ when: "finally", name: "notify", run: ["sh", "-c", "echo mail down; exit 1"] }),
        marker("finally", "after-notify"),
      ],
      dir.file("log"),
      { warnings },
    );
    const outcomes = await hooks.run("before", facts);
    expect(outcomes.map((o) => o.ok)).toEqual([false, true]);
    await hooks.finish({ ...facts, status: "success" });
    expect(warnings).toEqual([
      'before hook optional exited with code 1 (on_error = "continue": carrying on)',
      'finally hook notify exited with code 1: mail down (on_error = "continue": carrying on)',
    ]);
    expect(await dir.lines("log")).toEqual(["before:next:", "finally:after-notify:success"]);
  });

  it("fails the run for a success hook with on_error = fail, after finally ran", async () => {
    await using dir = await tempDir();
    const hooks = runner(
      [
        hook({ when: "success", name: "verify", run: ["false"], on_error: "fail" }),
        marker("finally", "f"),
      ],
      dir.file("log"),
    );
    const e = await caught(hooks.finish({ ...facts, status: "success" }));
    expect(e).toBeInstanceOf(HookFailedError);
    expect((e as HookFailedError).message).toBe("success hook verify exited with code 1");
    expect(await dir.lines("log")).toEqual(["finally:f:success"]);
  });

  it("runs every after_snapshot hook even when the first fails, then fails", async () => {
    await using dir = await tempDir();
    const hooks = runner(
      [
        hook({ when: "after_snapshot", name: "start-a", run: ["sh", "-c", "exit 7"] }),
        marker("after_snapshot", "start-b"),
      ],
      dir.file("log"),
    );
    const e = await caught(hooks.aroundSnapshots(facts, () => Promise.resolve()));
    expect((e as HookFailedError).message).toBe("after_snapshot hook start-a exited with code 7");
    expect((e as HookFailedError).outcomes.map((o) => o.ok)).toEqual([false, true]);
    expect(await dir.lines("log")).toEqual(["after_snapshot:start-b:"]);
  });

  it("says clearly when the program does not exist", async () => {
    await using dir = await tempDir();
    const warnings: string[] = [];
    const hooks = runner(
      [
        hook({ when: "before", run: ["/nonexistent/snapback-no-such-tool", "--flag"] }),
        hook({ when: "finally", name: "ping", run: ["snapback-no-such-tool-on-path"] }),
      ],
      dir.file("log"),
      { warnings },
    );
    const e = await caught(hooks.run("before", facts));
    expect((e as Error).message).toBe(
      'before hook "/nonexistent/snapback-no-such-tool --flag": program not found: /nonexistent/snapback-no-such-tool',
    );
    await hooks.run("finally", facts);
    expect(warnings).toEqual([
      'finally hook ping: program not found: snapback-no-such-tool-on-path (on_error = "continue": carrying on)',
    ]);
  });

  it("keeps the original error when a snapshot fails, and restarts the service anyway", async () => {
    await using dir = await tempDir();
    const warnings: string[] = [];
    const hooks = runner(
      [
        marker("before", "stop"),
        hook({
          when: "after_snapshot",
          name: "start",
          shell: 'echo "$SNAPBACK_ERROR" >> "$HOOK_LOG"',
        }),
        hook({ when: "after_snapshot", name: "broken", run: ["false"] }),
      ],
      dir.file("log"),
      { warnings },
    );
    const e = await caught(
      hooks.aroundSnapshots(facts, () => Promise.reject(new SnapbackError("btrfs: no space left"))),
    );
    expect((e as Error).message).toBe("btrfs: no space left");
    expect(await dir.lines("log")).toEqual(["before:stop:", "btrfs: no space left"]);
    expect(warnings).toEqual(["after_snapshot hook broken exited with code 1"]);
  });
});

describe("HookRunner: processes", () => {
  it("passes argv untouched and runs shell = … through /bin/sh", async () => {
    await using dir = await tempDir();
    const output: string[] = [];
    const hooks = runner(
      [
        hook({
          when: "before",
          name: "argv",
          run: ["printf", "%s\\n", "a  b", "$HOME", "*", "`id`"],
        }),
        hook({
          when: "before",
          name: "sh",
          shell: 'echo "home=$HOME" && echo err >&2; echo $((6*7))',
        }),
      ],
      dir.file("log"),
      { output },
    );
    const outcomes = await hooks.run("before", facts);
    // stdout and stderr are separate pipes: their relative order is not defined.
    expect(output.filter((l) => l.startsWith("argv/"))).toEqual([
      "argv/stdout: a  b",
      "argv/stdout: $HOME",
      "argv/stdout: *",
      "argv/stdout: `id`",
    ]);
    expect(output.filter((l) => l.startsWith("sh/")).sort()).toEqual([
      "sh/stderr: err",
      "sh/stdout: 42",
      "sh/stdout: home=/home/hooktest",
    ]);
    expect(outcomes[0]?.outputTail).toEqual(["a  b", "$HOME", "*", "`id`"]);
  });

  it("keeps only the last lines of a hook's output", async () => {
    const hooks = new HookRunner(
      "home",
      [hook({ when: "failure", run: ["seq", "1", "100"] })],
      {},
      { tailLines: 3 },
    );
    const [o] = await hooks.run("failure", facts);
    expect(o?.outputTail).toEqual(["98", "99", "100"]);
  });

  it("gives a hook the run's facts and no secret", async () => {
    await using dir = await tempDir();
    const dump = dir.file("env");
    const secret = "hunter2-restic-password";
    const awsSecret = "aws-secret-0123456789";
    const hooks = new HookRunner(
      "home",
      [hook({ when: "failure", shell: `env -0 > ${dump}` })],
      {},
      {
        baseEnv: {
          ...process.env,
          RESTIC_PASSWORD: secret,
          AWS_SECRET_ACCESS_KEY: awsSecret,
          SNAPBACK_PLAN: "stale",
        },
        secretValues: [secret, awsSecret],
      },
    );
    await hooks.finish({
      ...facts,
      status: "failed",
      summaries: [
        {
          repository: "offsite",
          snapshot_id: "0123abcd",
          files_new: 5,
          files_changed: 2,
          files_unmodified: 40,
          data_added: 1000,
        },
        {
          repository: "usb",
          snapshot_id: "4567ef01",
          files_new: 5,
          files_changed: 2,
          files_unmodified: 40,
          data_added: 24,
        },
      ],
      error: `repository nas: wrong password ${secret}`,
    });
    const text = await readFile(dump, "utf8");
    const env = new Map(
      text
        .split("\0")
        .filter((kv) => kv !== "")
        .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)] as const),
    );
    expect(
      Object.fromEntries(
        [...env].filter(([k]) => k.startsWith("SNAPBACK_") && k !== "SNAPBACK_RESULT_JSON"),
      ),
    ).toEqual({
      SNAPBACK_PLAN: "home",
      SNAPBACK_RUN_ID: "20260101T000000Z-beef",
      SNAPBACK_HOOK: "failure",
      SNAPBACK_HOOK_NAME: `"env -0 > ${dump}"`,
      SNAPBACK_SOURCES: "/srv/a\n/srv/b",
      SNAPBACK_REPOSITORIES: "offsite",
      SNAPBACK_STATUS: "failed",
      SNAPBACK_SNAPSHOT_IDS: "offsite=0123abcd,usb=4567ef01",
      SNAPBACK_FILES_NEW: "10",
      SNAPBACK_FILES_CHANGED: "4",
      SNAPBACK_FILES_UNMODIFIED: "80",
      SNAPBACK_DATA_ADDED: "1024",
      SNAPBACK_ERROR_COUNT: "0",
      SNAPBACK_ERROR: "repository nas: wrong password ***",
    });
    const json = JSON.parse(env.get("SNAPBACK_RESULT_JSON") ?? "") as {
      status: string;
      results: unknown[];
    };
    expect(json.status).toBe("failed");
    expect(json.results).toHaveLength(2);
    expect(env.get("PATH")).toBe(process.env["PATH"]);
    expect(env.has("RESTIC_PASSWORD")).toBe(false);
    expect(env.has("AWS_SECRET_ACCESS_KEY")).toBe(false);
    expect(text).not.toContain(secret);
    expect(text).not.toContain(awsSecret);
  });

  it("kills a hook's whole process group at its timeout", async () => {
    await using dir = await tempDir();
    const mark = uniqueMarker();
    const sleep = await markedSleep(dir.path, mark);
    try {
      const output: string[] = [];
      const hooks = runner(
        // The background sleep shares the hook's process group; killing only sh would leave it.
        [
          hook({
            when: "before",
            name: "slow",
            shell: `${sleep} 60 & echo started; ${sleep} 60`,
            timeout: "1s",
          }),
        ],
        dir.file("log"),
        { output },
      );
      const e = await caught(hooks.run("before", facts));
      expect(e).toBeInstanceOf(HookFailedError);
      expect((e as Error).message).toBe("before hook slow timed out after 1s");
      const [o] = (e as HookFailedError).outcomes;
      expect(o).toMatchObject({
        timedOut: true,
        interrupted: false,
        signal: "SIGTERM",
        exitCode: null,
      });
      expect(output).toEqual(["slow/stdout: started"]);
      expect(await processesWith(mark)).toEqual([]);
    } finally {
      await killAll(mark);
    }
  });

  it("escalates to SIGKILL when a timed-out hook ignores SIGTERM", async () => {
    await using dir = await tempDir();
    const mark = uniqueMarker();
    const sleep = await markedSleep(dir.path, mark);
    try {
      const warnings: string[] = [];
      const hooks = runner(
        [
          hook({
            when: "finally",
            name: "stubborn",
            shell: `trap "" TERM; ${sleep} 60 & ${sleep} 60`,
            timeout: "1s",
          }),
        ],
        dir.file("log"),
        { warnings, killGraceMs: 500 },
      );
      const [o] = await hooks.run("finally", facts);
      expect(o).toMatchObject({ ok: false, timedOut: true, signal: "SIGKILL" });
      expect(warnings).toEqual([
        'finally hook stubborn timed out after 1s (on_error = "continue": carrying on)',
      ]);
      expect(await processesWith(mark)).toEqual([]);
    } finally {
      await killAll(mark);
    }
  });

  it("stops a before hook when the run is interrupted, still restarts, and starts no snapshot", async () => {
    await using dir = await tempDir();
    const mark = uniqueMarker();
    const sleep = await markedSleep(dir.path, mark);
    try {
      const controller = new AbortController();
      const hooks = new HookRunner(
        "home",
        [
          hook({ when: "before", name: "flush", shell: `echo flushing; ${sleep} 60` }),
          marker("before", "never"),
          marker("after_snapshot", "start"),
        ],
        { onOutput: (line) => line === "flushing" && controller.abort(new Error("SIGINT")) },
        {
          baseEnv: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOOK_LOG: dir.file("log") },
          killGraceMs: 2_000,
        },
      );
      let took = false;
      const e = await caught(
        hooks.aroundSnapshots(
          facts,
          () => {
            took = true;
            return Promise.resolve();
          },
          controller.signal,
        ),
      );
      expect(e).toBeInstanceOf(InterruptedError);
      expect((e as InterruptedError).exitCode).toBe(130);
      expect(took).toBe(false);
      expect(await dir.lines("log")).toEqual(["after_snapshot:start:"]);
      expect(await processesWith(mark)).toEqual([]);
    } finally {
      await killAll(mark);
    }
  });
});
