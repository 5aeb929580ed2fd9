import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  createTestRepo,
  TEST_PASSWORD,
  testRestic,
  type TestRepo,
} from "../../../test/fixtures/restic.js";
import type { BackupProgress } from "../types.js";
import { backup, backupArgs } from "./backup.js";
import { ResticError } from "./errors.js";
import { listSnapshots } from "./snapshots.js";
import {
  backupRequest,
  plan,
  recordingWrap,
  resticRepo,
  secretsOf,
  tempDir,
  writeRandomFile,
} from "./test-support.js";

/** Four files survive the plan's excludes: a, sub/b, sub/deep/c and the .nobackup marker. */
async function makeSource(dir: string): Promise<void> {
  await mkdir(join(dir, "sub", "deep"), { recursive: true });
  await mkdir(join(dir, "skip"));
  await mkdir(join(dir, "extra"));
  await writeFile(join(dir, "a"), "alpha\n");
  await writeFile(join(dir, "sub", "b"), "bravo\n");
  await writeFile(join(dir, "sub", "deep", "c"), "charlie\n");
  await writeFile(join(dir, "x.tmp"), "excluded by pattern\n");
  await writeFile(join(dir, "skip", ".nobackup"), "");
  await writeFile(join(dir, "skip", "y"), "excluded by marker\n");
  await writeFile(join(dir, "extra", "z"), "excluded by snapback\n");
}

const homePlan = (src: string) =>
  plan([src], { tags: ["nightly"], exclude: ["*.tmp"], exclude_if_present: [".nobackup"] });

async function listFiles(t: TestRepo, id: string): Promise<string[]> {
  const out = await t.restic(["ls", "--json", id]);
  return out
    .split("\n")
    .filter((l) => l.includes('"struct_type":"node"'))
    .map((l) => JSON.parse(l) as { path: string; type: string })
    .filter((n) => n.type === "file")
    .map((n) => n.path)
    .sort();
}

describe("backup", () => {
  it("backs up the original paths with host, tags and excludes, and no secret in argv", async () => {
    await using t = await createTestRepo();
    await using src = await tempDir("src");
    await makeSource(src.path);
    const repo = resticRepo(t.url, t.passwordFile);
    const { wrap, calls } = recordingWrap();
    const summary = await backup(
      backupRequest({
        plan: homePlan(src.path),
        repo,
        secrets: await secretsOf(repo),
        paths: [src.path],
        extraExcludes: [join(src.path, "extra")],
        wrap,
      }),
      { cacheDir: join(t.dir, "cache") },
    );

    expect(summary).toMatchObject({
      filesNew: 4,
      filesChanged: 0,
      filesUnmodified: 0,
      totalFilesProcessed: 4,
      errorCount: 0,
      errors: [],
    });
    expect(summary.snapshotId).toMatch(/^[0-9a-f]{64}$/);
    expect(summary.dataBlobs).toBeGreaterThan(0);

    const [snap, ...rest] = await t.snapshots();
    expect(rest).toEqual([]);
    expect(snap?.id).toBe(summary.snapshotId);
    expect(snap?.paths).toEqual([src.path]);
    expect(snap?.hostname).toBe("test-host");
    expect([...(snap?.tags ?? [])].sort()).toEqual(["nightly", "plan:home"]);
    expect(await listFiles(t, summary.snapshotId)).toEqual(
      ["a", "skip/.nobackup", "sub/b", "sub/deep/c"].map((f) => join(src.path, f)),
    );

    // The argv went through the wrapper, and nothing secret is in it.
    expect(calls).toHaveLength(1);
    const argv = [calls[0]?.file ?? "", ...(calls[0]?.args ?? [])].join(" ");
    expect(calls[0]?.file).toBe((await testRestic()).path);
    expect(argv).not.toContain(TEST_PASSWORD);
    expect(argv).not.toContain(t.url);
    expect(calls[0]?.args.at(-1)).toBe(src.path);
  });

  it("finds the parent on a second backup: nothing new, every file unmodified", async () => {
    await using t = await createTestRepo();
    await using src = await tempDir("src");
    await makeSource(src.path);
    const repo = resticRepo(t.url, t.passwordFile);
    const req = backupRequest({
      plan: homePlan(src.path),
      repo,
      secrets: await secretsOf(repo),
      paths: [src.path],
      extraExcludes: [join(src.path, "extra")],
    });
    const first = await backup(req, { cacheDir: join(t.dir, "cache") });
    const second = await backup(req, { cacheDir: join(t.dir, "cache") });
    expect(second).toMatchObject({
      filesNew: 0,
      filesChanged: 0,
      filesUnmodified: first.filesNew,
      dataBlobs: 0,
      errorCount: 0,
    });
    const snaps = (await t.snapshots()) as { id: string; parent?: string }[];
    expect(snaps.map((s) => s.parent)).toEqual([undefined, first.snapshotId]);
  });

  it("returns a partial summary when a file cannot be read (exit 3)", async () => {
    await using t = await createTestRepo();
    await using src = await tempDir("src");
    await writeFile(join(src.path, "ok"), "readable\n");
    await writeFile(join(src.path, "secret"), "unreadable\n");
    await chmod(join(src.path, "secret"), 0o000);
    const repo = resticRepo(t.url, t.passwordFile);
    const warnings: string[] = [];
    // root reads any file; without CAP_DAC_OVERRIDE/READ_SEARCH a mode-000 file fails as it
    // would on NFS with root squash or on a FUSE mount. The wrapper is what a view does too.
    const dropDac = (file: string, args: string[]) => ({
      file: "setpriv",
      args: [
        "--inh-caps=-dac_override,-dac_read_search",
        "--bounding-set=-dac_override,-dac_read_search",
        "--",
        file,
        ...args,
      ],
    });
    const summary = await backup(
      backupRequest({
        plan: plan([src.path]),
        repo,
        secrets: await secretsOf(repo),
        paths: [src.path],
        wrap: dropDac,
        warnings,
      }),
      { cacheDir: join(t.dir, "cache") },
    );
    expect(summary.errorCount).toBe(1);
    expect(summary.errors).toEqual([
      `${join(src.path, "secret")}: open ${join(src.path, "secret")}: permission denied`,
    ]);
    expect(warnings).toEqual(summary.errors);
    expect(summary.filesNew).toBe(1);
    expect((await t.snapshots()).map((s) => s.id)).toEqual([summary.snapshotId]);
  });

  it("fails with wrong-password and leaves no snapshot", async () => {
    await using t = await createTestRepo();
    await using src = await tempDir("src");
    await writeFile(join(src.path, "f"), "x");
    const repo = resticRepo(t.url, t.passwordFile);
    const err = await backup(
      backupRequest({
        plan: plan([src.path]),
        repo,
        secrets: { password: "wrong", env: {} },
        paths: [src.path],
      }),
      { cacheDir: join(t.dir, "cache") },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResticError);
    expect(err).toMatchObject({
      kind: "wrong-password",
      message: 'repository "test": wrong password',
    });
    expect(await t.snapshots()).toEqual([]);
  });

  it("stops restic with SIGINT on abort: no snapshot and no stale lock", async () => {
    await using t = await createTestRepo();
    await using src = await tempDir("src");
    await writeRandomFile(join(src.path, "big"), 300);
    const repo = resticRepo(t.url, t.passwordFile);
    const abort = new AbortController();
    const progress: BackupProgress[] = [];
    const err = await backup(
      backupRequest({
        plan: plan([src.path]),
        repo,
        secrets: await secretsOf(repo),
        paths: [src.path],
        signal: abort.signal,
        onProgress: (p) => {
          progress.push(p);
          if (p.bytesDone > 0) abort.abort();
        },
      }),
      { cacheDir: join(t.dir, "cache") },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResticError);
    expect(err).toMatchObject({ kind: "killed", exitCode: 130 });
    const last = progress.at(-1);
    expect(last?.repository).toBe("test");
    expect(last?.totalBytes).toBe(300 * 1024 * 1024);
    expect(last?.bytesDone).toBeLessThan(300 * 1024 * 1024);
    expect(last?.fraction).toBeGreaterThan(0);
    expect(last?.fraction).toBeLessThan(1);
    expect((await t.restic(["list", "locks", "--no-lock"])).trim()).toBe("");
    expect(await t.snapshots()).toEqual([]);
  });

  it("builds flags as --flag=value so a pattern starting with '-' stays a value", () => {
    const req = backupRequest({
      plan: plan(["/srv"], {
        exclude: ["-weird"],
        exclude_caches: true,
        one_file_system: true,
        exclude_if_present: [".nobackup"],
      }),
      repo: resticRepo("/r", "/p"),
      secrets: { password: "x", env: {} },
      paths: ["/srv", "/home"],
      extraExcludes: ["/srv/.snapback"],
    });
    expect(backupArgs(req)).toEqual([
      "backup",
      "--json",
      "--host=test-host",
      "--tag=plan:home",
      "--exclude=-weird",
      "--exclude=/srv/.snapback",
      "--exclude-if-present=.nobackup",
      "--exclude-caches",
      "--one-file-system",
      "--",
      "/srv",
      "/home",
    ]);
  });
});

describe("listSnapshots", () => {
  it("lists full and short ids, ISO times, and filters by plan", async () => {
    await using t = await createTestRepo();
    await using a = await tempDir("src-a");
    await using b = await tempDir("src-b");
    await writeFile(join(a.path, "f"), "a");
    await writeFile(join(b.path, "f"), "b");
    const repo = resticRepo(t.url, t.passwordFile);
    const secrets = await secretsOf(repo);
    const cacheDir = join(t.dir, "cache");
    const home = await backup(
      backupRequest({ plan: plan([a.path]), repo, secrets, paths: [a.path] }),
      { cacheDir },
    );
    const other = await backup(
      backupRequest({ planName: "other", plan: plan([b.path]), repo, secrets, paths: [b.path] }),
      { cacheDir },
    );

    const all = await listSnapshots("test", repo, secrets, { cacheDir });
    expect(all.map((s) => s.id)).toEqual([home.snapshotId, other.snapshotId]);
    const [first] = all;
    expect(first).toEqual({
      id: home.snapshotId,
      shortId: home.snapshotId.slice(0, 8),
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as unknown,
      paths: [a.path],
      tags: ["plan:home"],
      host: "test-host",
    });
    const onlyOther = await listSnapshots("test", repo, secrets, { cacheDir, planName: "other" });
    expect(onlyOther.map((s) => s.id)).toEqual([other.snapshotId]);
    expect(await listSnapshots("test", repo, secrets, { cacheDir, planName: "none" })).toEqual([]);
  });
});
