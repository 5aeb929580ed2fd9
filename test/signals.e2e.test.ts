import "disposablestack/auto";
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { run } from "../src/exec/index.js";
import { CLI, createWorld, leftovers, writeConfigFile, type World } from "./fixtures/cli.js";
import { holdBackups, type HeldBackups } from "./fixtures/held-backup.js";

/**
 * Each test needs restic running and holding its repository lock when the signal comes: the
 * repository is reached through a gate that holds restic's pack uploads until the test says go,
 * so one small file is enough and no data size, throttle or sleep decides the timing.
 */
async function heldWorld(
  extraPlan = "",
): Promise<{ w: World; gate: HeldBackups } & AsyncDisposable> {
  await using stack = new AsyncDisposableStack();
  const w = stack.use(await createWorld(1024));
  const gate = stack.use(await holdBackups(w.repo.url));
  await writeFile(join(w.data, "hello.txt"), "hello\n");
  await writeConfigFile(w.configPath, [
    `state_dir = "${w.stateDir}"`,
    "[repositories.r]",
    'engine = "restic"',
    `url = "${gate.url}"`,
    `password_file = "${w.repo.passwordFile}"`,
    "[plans.p]",
    `sources = [${JSON.stringify(w.data)}]`,
    'repositories = ["r"]',
    extraPlan,
    "",
  ]);
  const owned = stack.move();
  return { w, gate, [Symbol.asyncDispose]: owned.disposeAsync.bind(owned) };
}

interface Started extends AsyncDisposable {
  pid: number;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** A `--json backup` of plan `p`. */
function startBackup(w: World, gate: HeldBackups): Started {
  const child = spawn(process.execPath, [CLI, "--config", w.configPath, "--json", "backup"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
  return {
    pid: child.pid ?? 0,
    done,
    // Should an expectation fail while it runs, the run is stopped and waited for (its restic
    // let go), so the world is not torn down under its mounts.
    async [Symbol.asyncDispose]() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      gate.open();
      await done;
    },
  };
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

/**
 * SIGKILL for all at one instant, as a power cut would: each is stopped first, so none sees
 * another die (restic would take snapback's death signal and remove its lock, snapback would
 * clean up after a killed restic).
 */
async function killTogether(pids: number[]): Promise<void> {
  for (const pid of pids) process.kill(pid, "SIGSTOP");
  for (const pid of pids) process.kill(pid, "SIGKILL");
  // Until the kernel has reaped them (restic's new parent may take a moment), they count as
  // alive, and their lock as live.
  await until("the killed processes to be reaped", () => pids.every((pid) => !alive(pid)));
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
    await using h = await heldWorld();
    const { w, gate } = h;
    await using b = startBackup(w, gate);
    await gate.held();
    // The moment the test needs: restic is running and holds its repository lock.
    expect(await resticLocks(w)).toHaveLength(1);
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
    await using h = await heldWorld();
    const { w, gate } = h;
    await using b = startBackup(w, gate);
    await gate.held();
    const restic = await descendants(b.pid);
    await killTogether([b.pid, ...restic]);
    await b.done;
    // Later runs go through the same gate.
    gate.open();
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
    await using h = await heldWorld();
    const { w, gate } = h;
    await using b = startBackup(w, gate);
    await gate.held();
    const second = await w.cli(["backup"]);
    expect(second.exitCode).toBe(4);
    expect(second.stderr).toMatch(/plan "p" is locked by another snapback run \(pid \d+/);
    gate.open();
    const first = await b.done;
    expect(first.code).toBe(0);
    expect(await leftovers(w)).toEqual([]);
  });

  test("SIGKILL, then `snapback cleanup`: snapshots, temp dir, journal and the stale lock are removed", async () => {
    await using h = await heldWorld();
    const { w, gate } = h;
    await using b = startBackup(w, gate);
    await gate.held();
    const restic = await descendants(b.pid);
    process.kill(b.pid, "SIGKILL");
    await b.done;
    // The orphaned restic gets its parent-death SIGINT; until it is gone its lock is live and
    // rightly kept. The gate stays shut till then: a released upload would let it finish.
    await until("the orphaned restic to exit", () => restic.every((pid) => !alive(pid)));
    gate.open();
    expect((await leftovers(w)).length).toBeGreaterThan(0);
    const r = await w.cli(["--json", "cleanup"]);
    expect(r.exitCode).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      removed: { type: string; id: string }[];
      stale_locks: { path: string }[];
      restic_locks: { repository: string; reason: string }[];
    };
    expect(doc.removed.map((e) => e.type).sort()).toEqual(["dir", "subvolume"]);
    // restic 0.14 dies on that write and leaves its lock; 0.17+ may catch the SIGINT first and
    // remove its own lock before its next status line (the order is restic's). Either way the
    // lock of a process that is gone is cleanup's to remove, and none is left after it.
    expect(doc.restic_locks.length).toBeLessThanOrEqual(1);
    for (const l of doc.restic_locks)
      expect([l.repository, l.reason]).toEqual(["r", "its process is gone"]);
    expect(await resticLocks(w)).toEqual([]);
    expect(doc.stale_locks.map((l) => l.path).sort()).toEqual([
      join(w.stateDir, "locks", "plan-p.lock"),
      join(w.stateDir, "locks", "repo-r.lock"),
    ]);
    expect(await leftovers(w)).toEqual([]);
    const again = await w.cli(["cleanup"]);
    expect(again.stdout).toContain("nothing to clean up");
  });
  test("SIGKILLed backup → cleanup (its --dry-run lists the restic lock) → prune and check succeed", async () => {
    await using h = await heldWorld("[plans.p.retention]\nkeep_last = 1");
    const { w, gate } = h;
    await using b = startBackup(w, gate);
    await gate.held();
    const restic = await descendants(b.pid);
    await killTogether([b.pid, ...restic]);
    await b.done;
    // Later runs go through the same gate.
    gate.open();
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
