import { readlink } from "node:fs/promises";
import type { ChildProcess } from "node:child_process";
import { describe, expect, it } from "vitest";
import { PipelineError, pipeline } from "./pipeline.js";
import { run } from "./spawn.js";

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("pipeline", () => {
  it("moves the data between the processes, never through this one", async () => {
    const size = 64 * 1024 * 1024;
    let seen: readonly ChildProcess[] = [];
    let fds: string[] = [];
    const r = await pipeline(
      [
        { file: "head", args: ["-c", String(size), "/dev/zero"] },
        { file: "sha256sum", args: [] },
      ],
      {
        onSpawn: (children) => {
          seen = children;
          const [a, b] = children;
          // Read while both still run: the writer's stdout is the reader's stdin.
          fds = [a, b].map((c) => `/proc/${c?.pid ?? 0}/fd/${c === a ? 1 : 0}`);
        },
      },
    );
    const expected = (await run("sh", ["-c", `head -c ${size} /dev/zero | sha256sum`])).stdout;
    expect(r.stages.at(-1)?.stdout).toBe(expected);
    expect(r.command).toBe(`head -c ${size} /dev/zero | sha256sum`);
    // No pipe from the first stage to us: the data had no way into this process.
    expect(seen[0]?.stdout).toBeNull();
    expect(seen[1]?.stdin).toBeNull();
    expect(fds).toHaveLength(2);
  });

  it("connects the writer's stdout to the reader's stdin at the OS level", async () => {
    let links: string[] = [];
    await pipeline(
      [
        { file: "sh", args: ["-c", "sleep 0.5; echo done"] },
        { file: "cat", args: [] },
      ],
      {
        onSpawn: (children) => {
          const [a, b] = children;
          void Promise.all([
            readlink(`/proc/${a?.pid ?? 0}/fd/1`),
            readlink(`/proc/${b?.pid ?? 0}/fd/0`),
          ]).then((l) => (links = l));
        },
      },
    );
    expect(links).toHaveLength(2);
    expect(links[0]).toMatch(/^(pipe|socket):\[\d+\]$/);
    expect(links[0]).toBe(links[1]);
  });

  it("fails with every stage's exit status and stderr", async () => {
    const e = await pipeline([
      { file: "sh", args: ["-c", "echo sender-trouble >&2; echo data; exit 3"] },
      { file: "sh", args: ["-c", "cat >/dev/null; echo receiver-trouble >&2; exit 5"] },
    ]).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(PipelineError);
    const pe = e as PipelineError;
    expect(pe.stages.map((s) => s.exitCode)).toEqual([3, 5]);
    expect(pe.message).toContain("sender-trouble");
    expect(pe.message).toContain("receiver-trouble");
    expect(pe.stderr).toContain("[sh] sender-trouble");
    expect(pe.stderr).toContain("[sh] receiver-trouble");
  });

  it("blames the reader first when the writer only died of a broken pipe", async () => {
    const e = (await pipeline([
      { file: "yes", args: [] },
      { file: "sh", args: ["-c", "head -c 10 >/dev/null; echo disk-full >&2; exit 1"] },
    ]).catch((err: unknown) => err)) as PipelineError;
    expect(e).toBeInstanceOf(PipelineError);
    expect(e.stages[0]?.signal ?? e.stages[0]?.exitCode).toBeTruthy();
    expect(e.message).toMatch(/failed: sh exited with code 1 \(disk-full\); yes /);
  });

  it("kills every stage's process group on abort", async () => {
    const controller = new AbortController();
    let pids: number[] = [];
    const p = pipeline(
      [
        { file: "sh", args: ["-c", "sleep 100 & sleep 100; wait"] },
        { file: "sh", args: ["-c", "sleep 100 & cat; wait"] },
      ],
      {
        signal: controller.signal,
        killGraceMs: 2_000,
        onSpawn: (children) => {
          pids = children.map((c) => c.pid ?? 0);
          setTimeout(() => controller.abort(), 200);
        },
      },
    );
    const e = (await p.catch((err: unknown) => err)) as PipelineError;
    expect(e).toBeInstanceOf(PipelineError);
    expect(e.stages.every((s) => s.aborted)).toBe(true);
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(groupAlive(pid)).toBe(false);
  });

  it("says which program is missing and starts nothing before it", async () => {
    const e = (await pipeline([
      { file: "cat", args: ["/dev/zero"] },
      { file: "snapback-no-such-program", args: [] },
    ]).catch((err: unknown) => err)) as PipelineError;
    expect(e).toBeInstanceOf(PipelineError);
    expect(e.message).toContain("snapback-no-such-program did not start (program not found)");
    expect(e.message).toContain("cat did not start");
  });

  it("returns the results without throwing when asked", async () => {
    const r = await pipeline(
      [
        { file: "echo", args: ["x"] },
        { file: "sh", args: ["-c", "cat; exit 2"] },
      ],
      { reject: false },
    );
    expect(r.stages.map((s) => s.exitCode)).toEqual([0, 2]);
    expect(r.stages[1]?.stdout).toBe("x\n");
  });
});
