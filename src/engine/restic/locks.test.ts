import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createTestRepo, TEST_PASSWORD, type TestRepo } from "../../../test/fixtures/restic.js";
import { run } from "../../exec/index.js";
import { lockHolderFromStderr, ResticError } from "./errors.js";
import {
  clearStaleLocks,
  describeHolder,
  ensureNotLocked,
  judgeLock,
  listLocks,
  parseLock,
  STALE_LOCK_AGE_MS,
  type ResticLock,
} from "./locks.js";
import { resticRepo, secretsOf } from "./test-support.js";

const NOW = Date.parse("2024-06-01T12:00:00Z");
const lock = (over: Partial<ResticLock> = {}): ResticLock => ({
  id: "a".repeat(64),
  time: new Date(NOW - 60_000).toISOString(),
  exclusive: true,
  hostname: "here",
  username: "root",
  pid: 42,
  ...over,
});
const judge = (alive: boolean) => ({ now: NOW, host: "here", isAlive: () => alive });

describe("judgeLock (restic's staleness rule)", () => {
  it("keeps a lock of a live process on this host", () => {
    expect(judgeLock(lock(), judge(true))).toEqual({ stale: false });
  });

  it("calls a lock of a dead process on this host stale", () => {
    expect(judgeLock(lock(), judge(false))).toEqual({ stale: true, reason: "its process is gone" });
  });

  it("never judges a young lock of another host by its pid", () => {
    expect(judgeLock(lock({ hostname: "nas" }), judge(false))).toEqual({ stale: false });
  });

  it("calls any lock older than 30 minutes stale, whichever host", () => {
    const old = new Date(NOW - STALE_LOCK_AGE_MS - 1000).toISOString();
    expect(judgeLock(lock({ hostname: "nas", time: old }), judge(true)).stale).toBe(true);
    const young = new Date(NOW - STALE_LOCK_AGE_MS + 1000).toISOString();
    expect(judgeLock(lock({ hostname: "nas", time: young }), judge(true)).stale).toBe(false);
  });

  it("does not call a lock with an unreadable time old", () => {
    expect(judgeLock(lock({ hostname: "nas", time: "yesterday-ish" }), judge(true))).toEqual({
      stale: false,
    });
  });
});

describe("parseLock", () => {
  it("reads restic 0.14's JSON, where false and zero fields are omitted", () => {
    const json =
      '{\n  "time": "2026-11-22T02:56:24.016234826Z",\n  "exclusive": true,\n  "hostname": "other-host",\n  "username": "root",\n  "pid": 15193\n}\n';
    expect(parseLock("b".repeat(64), json)).toEqual({
      id: "b".repeat(64),
      time: "2026-11-22T02:56:24.016Z",
      exclusive: true,
      hostname: "other-host",
      username: "root",
      pid: 15193,
    });
    expect(
      parseLock("c", '{"time":"2026-11-22T03:56:24+01:00","hostname":"h","pid":1}'),
    ).toMatchObject({ exclusive: false, time: "2026-11-22T02:56:24.000Z", username: "" });
  });

  it("rejects what is not a lock", () => {
    expect(parseLock("x", "not json")).toBeUndefined();
    expect(parseLock("x", '{"hostname":"h"}')).toBeUndefined();
    expect(parseLock("x", "null")).toBeUndefined();
  });

  it("describes the holder with host, pid, user and time", () => {
    expect(describeHolder(lock({ hostname: "nas", time: "2024-06-01T11:59:00.000Z" }))).toBe(
      "pid 42 on host nas (user root), since 2024-06-01T11:59:00.000Z",
    );
  });

  it("reads the holder from restic's refusal", () => {
    const stderr =
      "unable to create lock in backend: repository is already locked exclusively by PID 15193 on other-host by root (UID 0, GID 0)\nlock was created at 2026-11-22 02:56:24 (2.597427699s ago)\nstorage ID d5021921\n";
    expect(lockHolderFromStderr(stderr)).toBe(
      "pid 15193 on host other-host (user root), since 2026-11-22 02:56:24",
    );
    expect(lockHolderFromStderr("Fatal: wrong password")).toBeUndefined();
  });
});

/** A restic process that takes a lock and then blocks until `release()` (or is SIGKILLed). */
interface Holder {
  pid: number;
  lockId: string;
  release(): Promise<void>;
  kill(): Promise<void>;
}

/**
 * Real locks written by restic itself: `key passwd` locks exclusively and then blocks opening
 * a FIFO as its new-password file; `backup --stdin` locks shared and blocks reading stdin.
 * With `host`, restic runs in its own UTS namespace under that host name.
 */
async function holdLock(t: TestRepo, kind: "exclusive" | "shared", host?: string): Promise<Holder> {
  const dir = await mkdtemp(join(tmpdir(), "snapback-test-lock-"));
  const fifo = join(dir, "fifo");
  await run("mkfifo", [fifo]);
  const restic = [
    "restic",
    "-r",
    t.url,
    "--no-cache",
    ...(kind === "exclusive"
      ? ["key", "passwd", `--new-password-file=${fifo}`]
      : ["backup", "--stdin", "--host=test"]),
  ];
  const argv =
    host === undefined
      ? restic
      : ["unshare", "--uts", "sh", "-c", `hostname ${host} && exec "$@"`, "sh", ...restic];
  const [file = "", ...args] = argv;
  const before = await readdir(join(t.url, "locks"));
  const child = spawn(file, args, {
    stdio: ["pipe", "ignore", "ignore"],
    env: { ...process.env, RESTIC_PASSWORD: TEST_PASSWORD },
  });
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  let lockId: string | undefined;
  const done = async (): Promise<void> => {
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 600 && lockId === undefined; i++) {
      // restic writes "<id>-tmp-<n>" first and renames it when complete.
      lockId = (await readdir(join(t.url, "locks"))).find(
        (f) => /^[0-9a-f]{64}$/.test(f) && !before.includes(f),
      );
      if (lockId === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    if (lockId === undefined) throw new Error("restic took no lock");
  } catch (e) {
    child.kill("SIGKILL");
    await done();
    throw e;
  }
  return {
    pid: child.pid ?? 0,
    lockId,
    async release() {
      child.stdin.end();
      if (kind === "exclusive") child.kill("SIGINT");
      await done();
    },
    async kill() {
      child.kill("SIGKILL");
      await done();
    },
  };
}

async function target(t: TestRepo) {
  const repo = resticRepo(t.url, t.passwordFile);
  return { repoName: "offsite", repo, secrets: await secretsOf(repo) };
}

describe("clearStaleLocks / ensureNotLocked (real restic)", () => {
  it("lists nothing in a clean repository and runs no unlock", async () => {
    await using t = await createTestRepo();
    const argv: string[] = [];
    const cleared = await clearStaleLocks(await target(t), {
      cacheDir: join(t.dir, "cache"),
      onCommand: (_f, a) => argv.push(a.join(" ")),
    });
    expect(cleared).toEqual({ removed: [], remaining: [] });
    expect(argv).toEqual(["list locks --no-lock"]);
  });

  it("removes the exclusive lock of a killed restic on this host and says why", async () => {
    await using t = await createTestRepo();
    const h = await holdLock(t, "exclusive");
    await h.kill();
    const removed: string[] = [];
    const cleared = await ensureNotLocked(await target(t), {
      cacheDir: join(t.dir, "cache"),
      onRemoved: (l, why) => removed.push(`${l.id} ${l.hostname} ${l.pid} ${why}`),
    });
    expect(removed).toEqual([`${h.lockId} ${hostname()} ${h.pid} its process is gone`]);
    expect(cleared.remaining).toEqual([]);
    expect(await readdir(join(t.url, "locks"))).toEqual([]);
  });

  it("keeps a live lock of this host; only an exclusive one, or an exclusive caller, is blocked", async () => {
    await using t = await createTestRepo();
    const tg = await target(t);
    const h = await holdLock(t, "shared");
    try {
      const cleared = await ensureNotLocked(tg, { cacheDir: join(t.dir, "cache") });
      expect(cleared.remaining.map((l) => [l.id, l.exclusive, l.pid])).toEqual([
        [h.lockId, false, h.pid],
      ]);
      const e = await ensureNotLocked(tg, {
        cacheDir: join(t.dir, "cache"),
        exclusive: true,
      }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ResticError);
      expect((e as ResticError).exitCode).toBe(4);
      expect((e as ResticError).message).toMatch(
        new RegExp(
          `^repository "offsite" is locked by pid ${h.pid} on host ${hostname()} \\(user root\\), since \\d{4}-`,
        ),
      );
    } finally {
      await h.release();
    }
  });

  it("skips a lock that cannot be decrypted, and one that vanishes before it is read", async () => {
    await using t = await createTestRepo();
    const tg = await target(t);
    const garbage = join(t.url, "locks", "b".repeat(64));
    await writeFile(garbage, randomBytes(300));
    expect(await listLocks(tg, { cacheDir: join(t.dir, "cache") })).toEqual([]);

    // Deleted between `list locks` and `cat lock` (restic 0.14 retries that for ~45 s; the
    // first "retrying" line stops it).
    const cleared = await ensureNotLocked(tg, {
      cacheDir: join(t.dir, "cache"),
      onCommand: (_file, args) => {
        if (args.includes("cat")) rmSync(garbage, { force: true });
      },
    });
    expect(cleared).toEqual({ removed: [], remaining: [] });
  });

  it("never removes a lock of another host, even one snapback's clock calls old", async () => {
    await using t = await createTestRepo();
    const tg = await target(t);
    const h = await holdLock(t, "exclusive", "other-host");
    await h.kill();
    const e = await ensureNotLocked(tg, { cacheDir: join(t.dir, "cache") }).catch(
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(ResticError);
    expect((e as ResticError).kind).toBe("locked");
    expect((e as ResticError).message).toMatch(
      new RegExp(
        `^repository "offsite" is locked exclusively by pid ${h.pid} on host other-host \\(user root\\), since `,
      ),
    );
    expect((e as ResticError).hint).toMatch(/never removes a live lock of another host/);

    // Judged stale by a clock 31 minutes ahead, it goes to `restic unlock`, which applies
    // restic's own (true) clock and keeps it: nothing is reported removed.
    const removed: ResticLock[] = [];
    const ahead = {
      now: Date.now() + STALE_LOCK_AGE_MS + 60_000,
      host: hostname(),
      isAlive: () => true,
    };
    const cleared = await clearStaleLocks(tg, {
      cacheDir: join(t.dir, "cache"),
      judge: ahead,
      onRemoved: (l) => removed.push(l),
    });
    expect(removed).toEqual([]);
    expect(cleared.remaining.map((l) => l.id)).toEqual([h.lockId]);
    expect(
      (await listLocks(tg, { cacheDir: join(t.dir, "cache") })).map((l) => [
        l.hostname,
        l.exclusive,
      ]),
    ).toEqual([["other-host", true]]);
  });
});
