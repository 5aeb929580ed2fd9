import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { run } from "../src/exec/index.js";
import { CLI, createWorld, leftovers, type World } from "./fixtures/cli.js";

/**
 * Incompressible data that restic uploads at THROTTLE's rate: once the first progress line
 * comes (the handshake the tests wait for) restic is surely still mid-upload, holding its lock,
 * for seconds (2 MiB at 128 KiB/s: ~16 s), whatever the machine's speed.
 */
const THROTTLE = "limit_upload = 128";

async function fillData(w: World, files = 2): Promise<void> {
  const dir = join(w.data, "bulk");
  await mkdir(dir);
  await run("sh", [
    "-c",
    `for i in $(seq ${files}); do head -c 1048576 /dev/urandom > "${dir}/f$i"; done`,
  ]);
}

interface Started {
  pid: number;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Resolves once restic has reported progress (it is reading the view). */
  engineRunning: Promise<void>;
}

function startBackup(w: World): Started {
  const child = spawn(process.execPath, [CLI, "--config", w.configPath, "--json", "backup"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let onRunning: () => void = () => undefined;
  const engineRunning = new Promise<void>((r) => (onRunning = r));
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
    if (stdout.includes('"type":"progress"')) onRunning();
  });
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
  return { pid: child.pid ?? 0, done, engineRunning };
}

/** Every process below `pid` (the view's unshare/setpriv and restic inside it, not only children). */
async function descendants(pid: number): Promise<number[]> {
  const rows = (await run("ps", ["-e", "-o", "pid=,ppid="])).stdout
    .trim()
    .split("\n")
    .map((l) => l.trim().split(/\s+/).map(Number) as [number, number]);
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const [child, parent] of rows)
      if (parent === p) {
        out.push(child);
        walk(child);
      }
  };
  walk(pid);
  return out;
}

async function resticLocks(w: World): Promise<string[]> {
  return (await w.repo.restic(["list", "locks"])).split("\n").filter(Boolean);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("signals", () => {
  test("SIGTERM during the engine run: exit 130, restic stopped cleanly, nothing left", async () => {
    await using w = await createWorld(1024);
    await fillData(w);
    await w.writeConfig(w.basicConfig([w.data], "", THROTTLE));
    const b = startBackup(w);
    await b.engineRunning;
    const restic = await descendants(b.pid);
    expect(restic.length).toBeGreaterThan(0);
    process.kill(b.pid, "SIGTERM");
    const r = await b.done;
    expect(r.code).toBe(130);
    expect(r.stdout).toContain('"status":"interrupted"');
    expect(await leftovers(w)).toEqual([]);
    expect(await resticLocks(w)).toEqual([]);
    const alive = restic.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
  });

  test("SIGKILL of snapback and restic: the next run reports and removes the leftovers", async () => {
    await using w = await createWorld(1024);
    await fillData(w);
    await w.writeConfig(w.basicConfig([w.data], "", THROTTLE));
    const b = startBackup(w);
    await b.engineRunning;
    const restic = await descendants(b.pid);
    process.kill(b.pid, "SIGKILL");
    for (const pid of restic) process.kill(pid, "SIGKILL");
    await b.done;
    const left = await leftovers(w);
    expect(left.some((l) => l.includes("snapback@p@"))).toBe(true);
    expect(left.filter((l) => l.startsWith("mount"))).toEqual([]);

    const next = await w.cli(["--json", "backup"]);
    expect(next.exitCode).toBe(0);
    expect(next.stdout).toContain('"type":"reclaimed"');
    expect(next.stdout).toMatch(/btrfs subvolume .*snapback@p@/);
    expect(await leftovers(w)).toEqual([]);
  });

  test("two concurrent runs of one plan: one gets exit 4", async () => {
    await using w = await createWorld(1024);
    await fillData(w);
    await w.writeConfig(w.basicConfig([w.data], "", THROTTLE));
    const b = startBackup(w);
    await b.engineRunning;
    const second = await w.cli(["backup"]);
    expect(second.exitCode).toBe(4);
    expect(second.stderr).toMatch(/plan "p" is locked by another snapback run \(pid \d+/);
    const first = await b.done;
    expect(first.code).toBe(0);
    expect(await leftovers(w)).toEqual([]);
  });

  test("SIGKILL, then `snapback cleanup`: snapshots, temp dir, journal and the stale lock are removed", async () => {
    await using w = await createWorld(1024);
    await fillData(w);
    await w.writeConfig(w.basicConfig([w.data], "", THROTTLE));
    const b = startBackup(w);
    await b.engineRunning;
    const restic = await descendants(b.pid);
    process.kill(b.pid, "SIGKILL");
    await b.done;
    // The orphaned restic dies on its next progress line (its stdout's reader is gone); until
    // then its lock is live and rightly kept.
    await until("the orphaned restic to exit", () => restic.every((pid) => !alive(pid)));
    expect((await leftovers(w)).length).toBeGreaterThan(0);
    const r = await w.cli(["--json", "cleanup"]);
    expect(r.exitCode).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      removed: { type: string; id: string }[];
      stale_locks: { path: string }[];
      restic_locks: { repository: string; reason: string }[];
    };
    expect(doc.removed.map((e) => e.type).sort()).toEqual(["dir", "subvolume"]);
    expect(doc.restic_locks.map((l) => [l.repository, l.reason])).toEqual([
      ["r", "its process is gone"],
    ]);
    expect(doc.stale_locks.map((l) => l.path).sort()).toEqual([
      join(w.stateDir, "locks", "plan-p.lock"),
      join(w.stateDir, "locks", "repo-r.lock"),
    ]);
    expect(await leftovers(w)).toEqual([]);
    const again = await w.cli(["cleanup"]);
    expect(again.stdout).toContain("nothing to clean up");
  });
  test("SIGKILLed backup → cleanup (its --dry-run lists the restic lock) → prune and check succeed", async () => {
    await using w = await createWorld(1024);
    await fillData(w);
    await w.writeConfig(w.basicConfig([w.data], "[plans.p.retention]\nkeep_last = 1", THROTTLE));
    const b = startBackup(w);
    await b.engineRunning;
    const restic = await descendants(b.pid);
    process.kill(b.pid, "SIGKILL");
    for (const pid of restic) process.kill(pid, "SIGKILL");
    await b.done;
    const lockIds = await resticLocks(w);
    expect(lockIds).toHaveLength(1);

    type Doc = {
      stale_locks: { path: string }[];
      restic_locks: { repository: string; id: string; pid: number; reason: string }[];
    };
    const dry = await w.cli(["--json", "cleanup", "--dry-run"]);
    expect(dry.exitCode, dry.stderr).toBe(0);
    const planned = JSON.parse(dry.stdout) as Doc;
    expect(planned.stale_locks.map((l) => l.path).sort()).toEqual([
      join(w.stateDir, "locks", "plan-p.lock"),
      join(w.stateDir, "locks", "repo-r.lock"),
    ]);
    expect(planned.restic_locks.map((l) => [l.repository, l.id, l.reason])).toEqual([
      ["r", lockIds[0], "its process is gone"],
    ]);
    expect(restic).toContain(planned.restic_locks[0]?.pid);
    // A dry run touches nothing.
    expect(await resticLocks(w)).toEqual(lockIds);

    const r = await w.cli(["--json", "cleanup"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const done = JSON.parse(r.stdout) as Doc;
    expect(done.stale_locks).toEqual(planned.stale_locks);
    expect(done.restic_locks).toEqual(planned.restic_locks);
    expect(await resticLocks(w)).toEqual([]);
    expect(await leftovers(w)).toEqual([]);

    const prune = await w.cli(["prune"]);
    expect(prune.exitCode, prune.stderr).toBe(0);
    const check = await w.cli(["check"]);
    expect(check.exitCode, check.stderr).toBe(0);
    expect(check.stdout).toContain("repository r: structure ok");
  });
});
