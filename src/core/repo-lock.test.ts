import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InterruptedError, LockedError } from "../errors.js";
import { startTimeOf } from "../util/proc.js";
import { FileLock, lockDir, type LockOwner } from "./lock.js";
import { RepositoryLocks, repositoryLockName, waitingMessage } from "./repo-lock.js";

interface Dir extends AsyncDisposable {
  path: string;
}

async function stateDir(): Promise<Dir> {
  const path = await mkdtemp(join(tmpdir(), "snapback-test-locks-"));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

/** A lock file as another live process (our parent) would have written it. */
async function heldByParent(dir: string, name: string, plan?: string): Promise<LockOwner> {
  const owner: LockOwner = {
    pid: process.ppid,
    startTime: startTimeOf(process.ppid) ?? "",
    since: "2024-06-01T12:00:00.000Z",
    ...(plan === undefined ? {} : { plan }),
  };
  await writeFile(join(lockDir(dir), `${name}.lock`), JSON.stringify(owner));
  return owner;
}

async function mkLockDir(dir: string): Promise<void> {
  await (await FileLock.acquire(lockDir(dir), "probe", "probe")).release();
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe("FileLock waiting", () => {
  it("records the owner's plan and removes the file on release", async () => {
    await using d = await stateDir();
    const lock = await FileLock.acquire(lockDir(d.path), "plan-home", 'plan "home"', {
      plan: "home",
    });
    const owner = JSON.parse(await readFile(lock.path, "utf8")) as LockOwner;
    expect(owner).toMatchObject({ pid: process.pid, plan: "home" });
    await lock.release();
    expect(await readdir(lockDir(d.path))).toEqual([]);
  });

  it("fails at once with exit 4 by default, after the wait with --wait", async () => {
    await using d = await stateDir();
    await mkLockDir(d.path);
    await heldByParent(d.path, "plan-home", "home");
    const now = await rejection(FileLock.acquire(lockDir(d.path), "plan-home", 'plan "home"'));
    expect(now).toBeInstanceOf(LockedError);
    expect((now as LockedError).exitCode).toBe(4);
    expect((now as LockedError).message).toBe(
      `plan "home" is locked by another snapback run (pid ${process.ppid}, since 2024-06-01T12:00:00.000Z)`,
    );

    const seen: LockOwner[] = [];
    const later = await rejection(
      FileLock.acquire(lockDir(d.path), "plan-home", 'plan "home"', {
        waitMs: 300,
        pollMs: 20,
        onWait: (o) => seen.push(o),
      }),
    );
    expect((later as LockedError).message).toMatch(/; gave up after waiting 300ms$/);
    expect(seen.map((o) => [o.pid, o.plan])).toEqual([[process.ppid, "home"]]);
  });

  it("gets the lock as soon as the holder lets go", async () => {
    await using d = await stateDir();
    const holder = await FileLock.acquire(lockDir(d.path), "repo-r", "repository r", { plan: "a" });
    let waiting: () => void = () => undefined;
    const waited = new Promise<void>((r) => (waiting = r));
    const second = FileLock.acquire(lockDir(d.path), "repo-r", "repository r", {
      plan: "b",
      waitMs: Number.POSITIVE_INFINITY,
      pollMs: 20,
      onWait: () => waiting(),
    });
    await waited;
    await holder.release();
    const lock = await second;
    expect(JSON.parse(await readFile(lock.path, "utf8"))).toMatchObject({ plan: "b" });
    await lock.release();
  });

  it("stops waiting with exit 130 when the run is interrupted", async () => {
    await using d = await stateDir();
    await mkLockDir(d.path);
    await heldByParent(d.path, "plan-home");
    const controller = new AbortController();
    const e = rejection(
      FileLock.acquire(lockDir(d.path), "plan-home", "plan", {
        waitMs: Number.POSITIVE_INFINITY,
        signal: controller.signal,
        onWait: () => controller.abort(new Error("SIGTERM")),
      }),
    );
    const err = await e;
    expect(err).toBeInstanceOf(InterruptedError);
    expect((err as InterruptedError).exitCode).toBe(130);
    expect((err as InterruptedError).message).toBe("interrupted by SIGTERM");
  });

  it("takes over the lock of a dead process, and an empty file left by a power cut or a kill mid-write", async () => {
    await using d = await stateDir();
    await mkLockDir(d.path);
    const dead = { pid: 4_000_000, startTime: "1", since: "2024-01-01T00:00:00.000Z" };
    await writeFile(join(lockDir(d.path), "plan-a.lock"), JSON.stringify(dead));
    const stale: LockOwner[] = [];
    await (
      await FileLock.acquire(lockDir(d.path), "plan-a", "plan a", { onStale: (o) => stale.push(o) })
    ).release();
    expect(stale).toEqual([dead]);

    // Empty and from before this boot: a power cut between its creation and the writeback.
    const empty = join(lockDir(d.path), "plan-b.lock");
    await writeFile(empty, "");
    await utimes(empty, new Date("2024-01-01"), new Date("2024-01-01"));
    const lock = await FileLock.acquire(lockDir(d.path), "plan-b", "plan b", {
      onStale: (o) => stale.push(o),
    });
    expect(stale.at(-1)).toMatchObject({ pid: 0 });
    expect(JSON.parse(await readFile(lock.path, "utf8"))).toMatchObject({ pid: process.pid });
    await lock.release();

    // Empty and 11 s old in this boot: its creator was killed before it wrote its owner.
    await writeFile(empty, "");
    const elevenSecondsAgo = new Date(Date.now() - 11_000);
    await utimes(empty, elevenSecondsAgo, elevenSecondsAgo);
    await (await FileLock.acquire(lockDir(d.path), "plan-b", "plan b")).release();
  });

  it("an empty lock file made this moment is being taken by a live run: held, not taken over", async () => {
    await using d = await stateDir();
    await mkLockDir(d.path);
    const empty = join(lockDir(d.path), "plan-c.lock");
    await writeFile(empty, "");
    const e = await rejection(FileLock.acquire(lockDir(d.path), "plan-c", "plan c"));
    expect(e).toBeInstanceOf(LockedError);
    expect((e as Error).message).toBe(
      `plan c is locked: ${empty} names no owner yet (being taken this moment)`,
    );
    expect(await readFile(empty, "utf8")).toBe("");
  });

  it("keeps the old signature: a bare stale callback", async () => {
    await using d = await stateDir();
    await mkLockDir(d.path);
    await writeFile(
      join(lockDir(d.path), "m.lock"),
      JSON.stringify({ pid: 4_000_000, startTime: "1", since: "then" }),
    );
    const stale: number[] = [];
    await (
      await FileLock.acquire(lockDir(d.path), "m", "metrics", (o) => stale.push(o.pid))
    ).release();
    expect(stale).toEqual([4_000_000]);
  });
});

describe("RepositoryLocks", () => {
  it("takes one lock per repository, in name order, and releases them all", async () => {
    await using d = await stateDir();
    const locks = await RepositoryLocks.acquire(d.path, "home", ["zeta", "alpha", "zeta"]);
    expect((await readdir(lockDir(d.path))).sort()).toEqual(["repo-alpha.lock", "repo-zeta.lock"]);
    const owner = JSON.parse(
      await readFile(join(lockDir(d.path), `${repositoryLockName("alpha")}.lock`), "utf8"),
    ) as LockOwner;
    expect(owner).toMatchObject({ pid: process.pid, plan: "home" });
    await locks.release();
    expect(await readdir(lockDir(d.path))).toEqual([]);
  });

  it("waits for the plan that holds a shared repository and says so", async () => {
    await using d = await stateDir();
    const other = await RepositoryLocks.acquire(d.path, "photos", ["nas"]);
    const messages: string[] = [];
    let waiting: () => void = () => undefined;
    const waited = new Promise<void>((r) => (waiting = r));
    const mine = RepositoryLocks.acquire(d.path, "home", ["nas", "local"], {
      pollMs: 20,
      onWait: (holder, repo) => {
        messages.push(waitingMessage(holder, repo));
        waiting();
      },
    });
    await waited;
    // "local" sorts first and is already ours while "nas" is awaited.
    expect((await readdir(lockDir(d.path))).sort()).toEqual(["repo-local.lock", "repo-nas.lock"]);
    await other.release();
    await using locks = await mine;
    void locks;
    expect(messages).toEqual([
      `waiting for plan photos (pid ${process.pid}) to finish with repository nas`,
    ]);
  });

  it("gives back what it took when it cannot take everything", async () => {
    await using d = await stateDir();
    await mkLockDir(d.path);
    await heldByParent(d.path, repositoryLockName("nas"), "photos");
    const e = await rejection(
      RepositoryLocks.acquire(d.path, "home", ["local", "nas"], { waitMs: 0 }),
    );
    expect(e).toBeInstanceOf(LockedError);
    expect((e as LockedError).message).toContain(
      'repository "nas" is locked by another snapback run',
    );
    expect(await readdir(lockDir(d.path))).toEqual([`${repositoryLockName("nas")}.lock`]);
  });
});
