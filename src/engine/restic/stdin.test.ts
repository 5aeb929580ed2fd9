import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import {
  createTestRepo,
  TEST_PASSWORD,
  testRestic,
  type TestRepo,
} from "../../../test/fixtures/restic.js";
import { stdinFilenameFor } from "./binary.js";
import { SnapbackError } from "../../errors.js";
import type { StreamBackupRequest, StreamSource } from "../types.js";
import { ResticError } from "./errors.js";
import { backupStdin, dumpToSink, listTagged, stdinBackupArgs } from "./stdin.js";
import { resticRepo, secretsOf, tempDir, writeRandomFile } from "./test-support.js";

const FILE = "/snapback-databases/home/app.pg_dump";
const STORED = stdinFilenameFor(await testRestic(), FILE);
const TAGS = ["plan-db:home", "database:app"];

async function target(t: TestRepo, password?: string) {
  const repo = resticRepo(t.url, t.passwordFile);
  const secrets = await secretsOf(repo);
  return {
    repoName: "test",
    repo,
    secrets: password === undefined ? secrets : { ...secrets, password },
  };
}

function request(source: StreamSource, signal = new AbortController().signal): StreamBackupRequest {
  return { filename: FILE, host: "test-host", tags: TAGS, source, env: {}, signal };
}

const sh = (script: string): StreamSource => ({
  kind: "command",
  label: "test dump",
  file: "sh",
  args: ["-c", script],
});

async function sha256(path: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

describe("backupStdin", () => {
  it("stores a command's output as one file at the given path, tagged, and restic dump returns the same bytes", async () => {
    await using t = await createTestRepo();
    await using dir = await tempDir("stdin");
    const input = join(dir.path, "input");
    // 20 MiB of random data: several pipe buffers and restic chunks.
    await writeRandomFile(input, 20);
    const commands: string[] = [];
    const target_ = await target(t);
    const summary = await backupStdin(
      target_,
      request({ kind: "command", label: "cat", file: "cat", args: [input] }),
      {
        cacheDir: join(t.dir, "cache"),
        onCommand: (file, args) => commands.push([file, ...args].join(" ")),
      },
    );
    expect(summary.bytes).toBe(20 * 1024 * 1024);
    expect(summary.snapshotId).toMatch(/^[0-9a-f]{64}$/);

    const [snap, ...rest] = await t.snapshots();
    expect(rest).toEqual([]);
    expect(snap?.id).toBe(summary.snapshotId);
    // The path asked for, except on restic 0.18.0 (see stdinFilenameFor), which the summary says.
    expect(snap?.paths).toEqual([STORED]);
    expect(summary.storedAs).toBe(STORED === FILE ? undefined : STORED);
    expect([...(snap?.tags ?? [])].sort()).toEqual([...TAGS].sort());
    expect(snap?.hostname).toBe("test-host");

    const out = join(dir.path, "out");
    const r = await dumpToSink(
      target_,
      {
        snapshotId: summary.snapshotId,
        filename: STORED,
        sink: { kind: "command", label: "write", file: "sh", args: ["-c", `cat > ${out}`] },
        signal: new AbortController().signal,
      },
      { cacheDir: join(t.dir, "cache") },
    );
    expect(r.bytes).toBe(20 * 1024 * 1024);
    expect(await sha256(out)).toBe(await sha256(input));
    expect(commands.join("\n")).not.toContain(TEST_PASSWORD);

    const tagged = await listTagged(target_, ["database:app"], { cacheDir: join(t.dir, "cache") });
    expect(tagged.map((s) => s.id)).toEqual([summary.snapshotId]);
    expect(
      await listTagged(target_, ["database:other"], { cacheDir: join(t.dir, "cache") }),
    ).toEqual([]);
  });

  it("a dump that fails halfway leaves no snapshot and no lock, and its error is reported", async () => {
    await using t = await createTestRepo();
    const err = await backupStdin(
      await target(t),
      request(sh("head -c 8388608 /dev/urandom; echo 'connection lost' >&2; exit 3")),
      { cacheDir: join(t.dir, "cache") },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SnapbackError);
    expect((err as Error).message).toBe("test dump failed (exit code 3): connection lost");
    expect(await t.snapshots()).toEqual([]);
    expect((await t.restic(["list", "locks", "--no-lock"])).trim()).toBe("");
  });

  it("a dump that fails before writing anything leaves no (empty) snapshot", async () => {
    await using t = await createTestRepo();
    const err = await backupStdin(
      await target(t),
      request(sh("echo 'database \"nope\" does not exist' >&2; exit 1")),
      {
        cacheDir: join(t.dir, "cache"),
      },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      'test dump failed (exit code 1): database "nope" does not exist',
    );
    expect(await t.snapshots()).toEqual([]);
    expect((await t.restic(["list", "locks", "--no-lock"])).trim()).toBe("");
  });

  it("masks the source's secrets in its error output", async () => {
    await using t = await createTestRepo();
    const err = await backupStdin(
      await target(t),
      request({
        ...sh("echo 'auth failed for hunter22' >&2; exit 2"),
        secrets: ["hunter22"],
      } as StreamSource),
      { cacheDir: join(t.dir, "cache") },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toBe("test dump failed (exit code 2): auth failed for ***");
  });

  it("a missing dump program is named", async () => {
    await using t = await createTestRepo();
    const err = await backupStdin(
      await target(t),
      request({
        kind: "command",
        label: 'database "x": pg_dump',
        file: "snapback-no-such-dump",
        args: [],
      }),
      { cacheDir: join(t.dir, "cache") },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      'database "x": pg_dump: snapback-no-such-dump is not installed (not found on PATH)',
    );
    expect(await t.snapshots()).toEqual([]);
  });

  it("when restic fails (wrong password) the endless dump is stopped and restic's error is reported", async () => {
    await using t = await createTestRepo();
    const err = await backupStdin(await target(t, "wrong"), request(sh("exec yes snapback")), {
      cacheDir: join(t.dir, "cache"),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResticError);
    expect(err).toMatchObject({ kind: "wrong-password" });
  });

  it("an abort stops both sides: no snapshot, no lock", async () => {
    await using t = await createTestRepo();
    await using dir = await tempDir("abort");
    const marker = join(dir.path, "streaming");
    const abort = new AbortController();
    // 8 MiB is more than the pipes hold: once the marker exists, restic is reading the stream
    // (an abort while restic still starts up is restic's own business).
    const script = `head -c 8388608 /dev/urandom; touch ${marker}; exec yes snapback`;
    const pending = backupStdin(await target(t), request(sh(script), abort.signal), {
      cacheDir: join(t.dir, "cache"),
    });
    while (!existsSync(marker)) await sleep(20);
    abort.abort();
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SnapbackError);
    expect(await t.snapshots()).toEqual([]);
    expect((await t.restic(["list", "locks", "--no-lock"])).trim()).toBe("");
  });

  it("streams without holding the data: 1 GiB through the process grows its memory by far less", async () => {
    await using t = await createTestRepo();
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    try {
      // Zeros: restic deduplicates them, so the test is about the pipe, not the repository.
      const summary = await backupStdin(
        await target(t),
        request(sh("head -c 1073741824 /dev/zero")),
        { cacheDir: join(t.dir, "cache") },
      );
      expect(summary.bytes).toBe(1024 * 1024 * 1024);
    } finally {
      clearInterval(timer);
    }
    expect(peak - before).toBeLessThan(128 * 1024 * 1024);
  });

  it("builds a shell-free argv with the path and tags as --flag=value", () => {
    expect(stdinBackupArgs({ filename: FILE, host: "h", tags: TAGS })).toEqual([
      "backup",
      "--json",
      "--stdin",
      `--stdin-filename=${FILE}`,
      "--host=h",
      "--tag=plan-db:home",
      "--tag=database:app",
    ]);
  });
});

describe("dumpToSink", () => {
  async function stored(t: TestRepo, content: string): Promise<string> {
    const s = await backupStdin(await target(t), request(sh(`printf '%s' '${content}'`)), {
      cacheDir: join(t.dir, "cache"),
    });
    return s.snapshotId;
  }

  it("streams into a writable", async () => {
    await using t = await createTestRepo();
    const id = await stored(t, "hello dump");
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on("data", (c: Buffer) => chunks.push(c));
    const r = await dumpToSink(
      await target(t),
      {
        snapshotId: id,
        filename: STORED,
        sink: { kind: "writable", label: "memory", stream: sink },
        signal: new AbortController().signal,
      },
      { cacheDir: join(t.dir, "cache") },
    );
    expect(Buffer.concat(chunks).toString()).toBe("hello dump");
    expect(r.bytes).toBe(10);
  });

  it("a restic dump that fails stops the loading program before it sees end-of-input", async () => {
    await using t = await createTestRepo();
    await using dir = await tempDir("sink");
    const id = await stored(t, "x");
    const marker = join(dir.path, "reached-eof");
    const err = await dumpToSink(
      await target(t),
      {
        snapshotId: id,
        filename: "/not/in/the/snapshot",
        sink: {
          kind: "command",
          label: "load",
          file: "sh",
          args: ["-c", `cat > /dev/null; touch ${marker}`],
        },
        signal: new AbortController().signal,
      },
      { cacheDir: join(t.dir, "cache") },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResticError);
    expect((err as Error).message).toMatch(/not found|does not exist|cannot dump/i);
    expect(existsSync(marker)).toBe(false);
  });

  it("a loading program that fails is reported, with its own words", async () => {
    await using t = await createTestRepo();
    const id = await stored(t, "CREATE TABLE broken");
    const err = await dumpToSink(
      await target(t),
      {
        snapshotId: id,
        filename: STORED,
        sink: {
          kind: "command",
          label: "load into db2",
          file: "sh",
          args: ["-c", "cat >/dev/null; echo 'syntax error at end of input' >&2; exit 3"],
        },
        signal: new AbortController().signal,
      },
      { cacheDir: join(t.dir, "cache") },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      "load into db2 failed (exit code 3): syntax error at end of input",
    );
  });

  it("a loading program that exits before reading everything is an error", async () => {
    await using t = await createTestRepo();
    await using dir = await tempDir("big");
    const big = join(dir.path, "big");
    await writeRandomFile(big, 8);
    const s = await backupStdin(
      await target(t),
      request({ kind: "command", label: "cat", file: "cat", args: [big] }),
      { cacheDir: join(t.dir, "cache") },
    );
    const err = await dumpToSink(
      await target(t),
      {
        snapshotId: s.snapshotId,
        filename: STORED,
        sink: { kind: "command", label: "load", file: "true", args: [] },
        signal: new AbortController().signal,
      },
      { cacheDir: join(t.dir, "cache") },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      `the receiving program finished before reading all of restic dump of ${STORED} from repository "test"`,
    );
  });
});
