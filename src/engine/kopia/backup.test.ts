import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fileAppears } from "../../../test/fixtures/handshake.js";
import { backup } from "./backup.js";
import { KopiaError } from "./errors.js";
import { ensureConnected } from "./repository.js";
import { listSnapshots } from "./snapshots.js";
import {
  backupRequest,
  createFakeKopiaRepo,
  FAKE_KOPIA,
  FAKE_PASSWORD,
  plan,
} from "./test-support.js";

/**
 * The adapter against the scripted stand-in (test/fixtures/fake-kopia): kopia cannot be
 * installed on the test machines. The stand-in records every argv and environment it got.
 */

interface Dir extends AsyncDisposable {
  path: string;
}

async function tempDir(prefix: string): Promise<Dir> {
  const path = await mkdtemp(join(tmpdir(), `snapback-test-${prefix}-`));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

async function makeSource(dir: string): Promise<void> {
  await mkdir(join(dir, "sub"), { recursive: true });
  await writeFile(join(dir, "a"), "alpha\n");
  await writeFile(join(dir, "sub", "b"), "bravo\n");
  await writeFile(join(dir, "x.tmp"), "excluded by pattern\n");
  await mkdir(join(dir, ".snapback"));
  await writeFile(join(dir, ".snapback", "z"), "excluded by snapback\n");
}

describe("kopia backup", () => {
  it("sets the policy, snapshots the original path with tags, password only in the environment", async () => {
    await using k = await createFakeKopiaRepo();
    await using src = await tempDir("src");
    await using logs = await tempDir("logs");
    await makeSource(src.path);
    const calls: string[][] = [];
    const summary = await backup(
      backupRequest({
        plan: plan([src.path], {
          tags: ["nightly"],
          exclude: ["*.tmp"],
          retention: { keep_last: 5 },
        }),
        repo: k.repository(),
        paths: [src.path],
        extraExcludes: [join(src.path, ".snapback")],
        wrap: (file, args) => {
          calls.push([file, ...args]);
          return { file, args };
        },
      }),
      { kopiaPath: FAKE_KOPIA, logDir: logs.path },
    );
    expect(summary).toMatchObject({
      filesNew: 2,
      filesUnmodified: 0,
      totalFilesProcessed: 2,
      errorCount: 0,
      errors: [],
    });
    expect(summary.snapshotId).toMatch(/^[0-9a-f]{32}$/);

    // Only snapshot create goes through the view wrapper; policies name paths only.
    expect(calls).toHaveLength(1);
    const recorded = await k.calls();
    expect(recorded.map((c) => c.command)).toEqual(["policy set", "policy set", "snapshot create"]);
    for (const c of recorded) {
      expect(c.argv[0]).toBe(`--config-file=${k.configFile}`);
      expect(c.argv.join(" ")).not.toContain(FAKE_PASSWORD);
      expect(c.env["KOPIA_PASSWORD"]).toBe(FAKE_PASSWORD);
      expect(c.env["KOPIA_LOG_DIR"]).toBe(logs.path);
      expect(c.env["KOPIA_CHECK_FOR_UPDATES"]).toBe("false");
    }
    expect(recorded[2]?.argv.at(-1)).toBe(src.path);
    expect(recorded[2]?.sources).toEqual([{ path: src.path, writable: true, marker: null }]);
    expect(await readFile(join(logs.path, "cli-logs", "kopia-fake.log"), "utf8")).toContain(
      "snapshot create",
    );

    // --clear-ignore then --add-ignore: the second command's rules are what kopia keeps.
    expect(await k.policies()).toEqual({
      [`root@test-host:${src.path}`]: expect.objectContaining({
        ignore: ["*.tmp", "/.snapback"],
        keepLatest: 5,
        keepDaily: 0,
      }) as unknown,
    });
    const [snap, ...rest] = await listSnapshots(
      { repoName: "test", repo: k.repository(), secrets: { password: FAKE_PASSWORD, env: {} } },
      {
        kopiaPath: FAKE_KOPIA,
        planName: "home",
      },
    );
    expect(rest).toEqual([]);
    expect(snap).toMatchObject({
      id: summary.snapshotId,
      paths: [src.path],
      tags: ["nightly", "plan:home"],
      host: "test-host",
    });
  });

  it("finds the previous snapshot: a second backup hashes nothing", async () => {
    await using k = await createFakeKopiaRepo();
    await using src = await tempDir("src");
    await makeSource(src.path);
    const req = backupRequest({ plan: plan([src.path]), repo: k.repository(), paths: [src.path] });
    const first = await backup(req, { kopiaPath: FAKE_KOPIA });
    const second = await backup(req, { kopiaPath: FAKE_KOPIA });
    expect(first.filesNew).toBe(4);
    expect(second).toMatchObject({ filesNew: 0, filesUnmodified: 4, errorCount: 0 });
    expect(second.snapshotId).not.toBe(first.snapshotId);
  });

  it("reports exit 1 with a saved snapshot as a partial backup, not a failure", async () => {
    await using k = await createFakeKopiaRepo();
    await using src = await tempDir("src");
    await makeSource(src.path);
    await k.setMode("partial:sub/b");
    const warnings: string[] = [];
    const summary = await backup(
      backupRequest({ plan: plan([src.path]), repo: k.repository(), paths: [src.path], warnings }),
      {
        kopiaPath: FAKE_KOPIA,
      },
    );
    const message = `sub/b: open ${join(src.path, "sub", "b")}: permission denied`;
    expect(summary).toMatchObject({ errorCount: 1, errors: [message], filesNew: 3 });
    expect(warnings).toEqual([message]);
    expect((await k.manifests()).map((m) => m.id)).toEqual([summary.snapshotId]);
  });

  it("makes one snapshot per source, grouped by run, and reports their ids together", async () => {
    await using k = await createFakeKopiaRepo();
    await using a = await tempDir("a");
    await using b = await tempDir("b");
    await writeFile(join(a.path, "f"), "a");
    await writeFile(join(b.path, "g"), "b");
    const summary = await backup(
      backupRequest({
        plan: plan([a.path, b.path]),
        repo: k.repository(),
        paths: [a.path, b.path],
      }),
      {
        kopiaPath: FAKE_KOPIA,
      },
    );
    const manifests = await k.manifests();
    expect(summary.snapshotId).toBe(manifests.map((m) => m.id).join(","));
    expect(manifests.map((m) => m.source.path)).toEqual([a.path, b.path]);
    const runs = new Set(manifests.map((m) => m.tags?.["tag:snapback-run"]));
    expect(runs.size).toBe(1);
    expect(summary.totalFilesProcessed).toBe(2);
  });

  it("fails with a classified error, naming the repository, and saves nothing", async () => {
    await using k = await createFakeKopiaRepo();
    await using src = await tempDir("src");
    await writeFile(join(src.path, "f"), "x");
    const req = (password?: string) =>
      backupRequest({
        plan: plan([src.path]),
        repo: k.repository(),
        paths: [src.path],
        ...(password ? { password } : {}),
      });

    const wrong = await backup(req("not the password"), { kopiaPath: FAKE_KOPIA }).catch(
      (e: unknown) => e,
    );
    expect(wrong).toBeInstanceOf(KopiaError);
    expect(wrong).toMatchObject({
      kind: "wrong-password",
      exitCode: 2,
      message: 'repository "test": wrong password (kopia: invalid repository password)',
    });

    await k.setMode("unreachable");
    const down = await backup(req(), { kopiaPath: FAKE_KOPIA }).catch((e: unknown) => e);
    expect(down).toMatchObject({
      kind: "unreachable",
      message:
        'repository "test" is unreachable: error connecting to SFTP server: dial tcp 192.0.2.10:22: connect: connection refused',
    });
    expect(await k.manifests()).toEqual([]);
  });

  it("stops kopia with SIGINT on abort", async () => {
    await using k = await createFakeKopiaRepo();
    await using src = await tempDir("src");
    await writeFile(join(src.path, "f"), "x");
    await k.setMode("hang");
    const abort = new AbortController();
    const running = backup(
      backupRequest({
        plan: plan([src.path]),
        repo: k.repository(),
        paths: [src.path],
        signal: abort.signal,
      }),
      {
        kopiaPath: FAKE_KOPIA,
        killGraceMs: 10_000,
      },
    ).catch((e: unknown) => e);
    // Abort once the stand-in says it is waiting inside snapshot create with its handler set.
    await fileAppears(join(k.repoDir, "hanging"));
    abort.abort();
    const err = await running;
    expect(err).toMatchObject({ kind: "killed", exitCode: 130 });
    const create = (await k.calls()).find((c) => c.command === "snapshot create");
    // The stand-in ran its SIGINT handler and exited by itself (it records on exit).
    expect(create?.sources).toEqual([{ path: src.path, hang: true }]);
    expect(await k.manifests()).toEqual([]);
  });
});

describe("kopia repository", () => {
  it("opens a connected repository and reads the cache dir and client identity from its config file", async () => {
    await using k = await createFakeKopiaRepo({ hostname: "web7" });
    const client = await ensureConnected(
      { repoName: "test", repo: k.repository(), secrets: { password: FAKE_PASSWORD, env: {} } },
      { kopiaPath: FAKE_KOPIA },
    );
    expect(client).toEqual({ cacheDir: k.cacheDir, hostname: "web7", username: "root" });
    expect((await k.calls()).map((c) => c.command)).toEqual(["repository status"]);
  });

  it("says the repository is not connected when its config file is missing, before running kopia", async () => {
    await using k = await createFakeKopiaRepo({ connected: false });
    const err = await ensureConnected(
      { repoName: "offsite", repo: k.repository(), secrets: { password: FAKE_PASSWORD, env: {} } },
      { kopiaPath: FAKE_KOPIA },
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({
      kind: "not-connected",
      exitCode: 2,
      message: `repository "offsite" is not connected: kopia config file ${k.configFile} does not exist`,
    });
    expect(await k.calls()).toEqual([]);
  });

  it("says so when no password is configured and kopia has none stored", async () => {
    await using k = await createFakeKopiaRepo();
    const err = await ensureConnected(
      { repoName: "offsite", repo: k.repository(), secrets: { password: undefined, env: {} } },
      { kopiaPath: FAKE_KOPIA },
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({
      kind: "no-password",
      message: 'repository "offsite": kopia needs the repository password and none was given',
    });
  });
});
