import type { ChildProcess } from "node:child_process";
import { readFile, readdir, readlink } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
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

interface Links {
  writerOut: string;
  readerIn: string;
  /** What every fd of this process points at. */
  ours: string[];
}

async function linksOf(children: readonly ChildProcess[]): Promise<Links> {
  const [writer, reader] = children;
  const fds = await readdir("/proc/self/fd");
  const ours = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => "")));
  return {
    writerOut: await readlink(`/proc/${writer?.pid ?? 0}/fd/1`),
    readerIn: await readlink(`/proc/${reader?.pid ?? 0}/fd/0`),
    ours,
  };
}

describe("pipeline", () => {
  it("moves the data between the processes, never through this one", async () => {
    const size = 64 * 1024 * 1024;
    let links: Promise<Links> | undefined;
    const r = await pipeline(
      [
        // The pause keeps the writer alive while its fds are looked at.
        { file: "sh", args: ["-c", `sleep 0.3; head -c ${size} /dev/zero`] },
        { file: "sha256sum", args: [] },
      ],
      {
        onSpawn: (children) => {
          links = linksOf(children);
        },
      },
    );
    const expected = (await run("sh", ["-c", `head -c ${size} /dev/zero | sha256sum`])).stdout;
    expect(r.stages.at(-1)?.stdout).toBe(expected);
    expect(r.command).toBe(`sh -c "sleep 0.3; head -c ${size} /dev/zero" | sha256sum`);
    const l = await links;
    expect(l?.writerOut).toMatch(/^(pipe|socket):\[\d+\]$/);
    expect(l?.readerIn).toMatch(/^(pipe|socket):\[\d+\]$/);
    // Neither end of the connection is open in this process: the data cannot pass through it.
    expect(l?.ours).not.toContain(l?.writerOut);
    expect(l?.ours).not.toContain(l?.readerIn);
  });

  it("gives the writer a blocking stdout (btrfs send fails on a non-blocking one)", async () => {
    let flags: Promise<number> | undefined;
    await pipeline(
      [
        { file: "sh", args: ["-c", "sleep 0.3; echo done"] },
        { file: "cat", args: [] },
      ],
      {
        onSpawn: ([writer]) => {
          flags = readFile(`/proc/${writer?.pid ?? 0}/fdinfo/1`, "utf8").then((t) =>
            parseInt(/flags:\s*([0-7]+)/.exec(t)?.[1] ?? "-1", 8),
          );
        },
      },
    );
    const f = await flags;
    expect(f).toBeGreaterThanOrEqual(0);
    expect((f ?? 0) & 0o4000).toBe(0);
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
    expect(e.message, e.message).toMatch(/failed: sh exited with code 1 \(disk-full\); yes /);
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
    // Orphaned members of a group are reaped by init a moment later.
    for (let i = 0; i < 50 && pids.some(groupAlive); i++) await sleep(100);
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
