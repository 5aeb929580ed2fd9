import { existsSync } from "node:fs";
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UsageError } from "../errors.js";
import { KopiaEngine } from "./kopia-engine.js";
import {
  createFakeKopiaRepo,
  FAKE_KOPIA,
  FAKE_PASSWORD,
  plan,
  type FakeKopiaRepo,
} from "./kopia/test-support.js";
import type { ViewBackupRequest } from "./types.js";

/** KopiaEngine against the scripted stand-in (kopia cannot be installed here). */

interface Fixture extends AsyncDisposable {
  k: FakeKopiaRepo;
  engine: KopiaEngine;
  root: string;
  a: string;
  b: string;
  logDir: string;
  backup(planName?: string): Promise<string>;
}

const signal = new AbortController().signal;

async function fixture(): Promise<Fixture> {
  const k = await createFakeKopiaRepo();
  const root = await mkdtemp(join(tmpdir(), "snapback-test-kopia-engine-"));
  const a = join(root, "src", "a");
  const b = join(root, "src", "b");
  await mkdir(join(a, "deep"), { recursive: true });
  await mkdir(b, { recursive: true });
  await writeFile(join(a, "one.txt"), "one\n");
  await writeFile(join(a, "deep", "two.txt"), "two\n");
  await writeFile(join(b, "three.txt"), "three\n");
  await utimes(
    join(a, "one.txt"),
    new Date("2021-02-03T04:05:06.789Z"),
    new Date("2021-02-03T04:05:06.789Z"),
  );
  const logDir = join(root, "logs");
  const engine = new KopiaEngine(
    "offsite",
    k.repository(),
    { password: FAKE_PASSWORD, env: {} },
    { logDir, kopiaPath: FAKE_KOPIA },
  );
  return {
    k,
    engine,
    root,
    a,
    b,
    logDir,
    async backup(planName = "home") {
      const req: ViewBackupRequest = {
        planName,
        plan: plan([a, b], { tags: ["nightly"] }),
        paths: [a, b],
        extraExcludes: [],
        host: "test-host",
        wrap: (file, args) => ({ file, args }),
        env: {},
        signal,
        onProgress: () => undefined,
        onWarning: () => undefined,
        snapshots: [],
      };
      return (await engine.backup(req)).snapshotId;
    },
    async [Symbol.asyncDispose]() {
      await rm(root, { recursive: true, force: true });
      await k[Symbol.asyncDispose]();
    },
  };
}

async function usageError(p: Promise<unknown>): Promise<UsageError> {
  const e = await p.catch((x: unknown) => x);
  if (!(e instanceof UsageError)) throw new Error(`expected a UsageError, got ${String(e)}`);
  return e;
}

describe("KopiaEngine", () => {
  it("prepares: the config file's cache dir joins the writable dirs; describe names no secret", async () => {
    await using f = await fixture();
    expect(f.engine.writableDirs()).toEqual([f.logDir]);
    await f.engine.prepare(signal);
    expect(f.engine.writableDirs()).toEqual([f.logDir, f.k.cacheDir]);
    const text = f.engine.describeBackup({
      planName: "home",
      plan: plan([f.a]),
      paths: [f.a],
      extraExcludes: [],
      host: "h",
    });
    expect(text).toContain(`kopia --config-file=${f.k.configFile} snapshot create --json`);
    expect(text).not.toContain(FAKE_PASSWORD);
    expect(f.engine.secretValues()).toEqual([FAKE_PASSWORD]);
  });

  it("lists a plan's snapshots, one per source, with the original paths and plan tags", async () => {
    await using f = await fixture();
    const id = await f.backup();
    await f.backup("other");
    const snaps = await f.engine.snapshots("home");
    expect(snaps.map((s) => s.id).join(",")).toBe(id);
    expect(snaps.map((s) => s.paths)).toEqual([[f.a], [f.b]]);
    expect(snaps[0]).toMatchObject({
      tags: ["nightly", "plan:home"],
      host: "test-host",
      shortId: snaps[0]?.id.slice(0, 8),
    });
    expect(await f.engine.snapshots()).toHaveLength(4);
    expect(
      (await f.engine.snapshotsWithTags(["plan:other", "nightly"])).map((s) => s.paths[0]),
    ).toEqual([f.a, f.b]);
    expect(await f.engine.snapshotsWithTags(["plan:none"])).toEqual([]);
  });

  it("restores the latest backup (every source of the run) at the original paths below the target", async () => {
    await using f = await fixture();
    await f.backup();
    await writeFile(join(f.a, "one.txt"), "changed after the backup\n");
    const target = join(f.root, "restore");
    await f.engine.restore({
      plan: "home",
      snapshot: "latest",
      target,
      paths: [],
      overwrite: false,
      signal,
    });
    expect(await readFile(join(target, f.a, "one.txt"), "utf8")).toBe("one\n");
    expect(await readFile(join(target, f.a, "deep", "two.txt"), "utf8")).toBe("two\n");
    expect(await readFile(join(target, f.b, "three.txt"), "utf8")).toBe("three\n");
    expect((await lstat(join(target, f.a, "one.txt"))).mtime.toISOString()).toBe(
      "2021-02-03T04:05:06.789Z",
    );
    const restores = (await f.k.calls()).filter((c) => c.command === "restore");
    expect(restores.map((c) => c.argv.slice(-2))).toEqual([
      ["--no-overwrite-files", "--no-overwrite-symlinks"],
      ["--no-overwrite-files", "--no-overwrite-symlinks"],
    ]);
  });

  it("refuses to overwrite without --overwrite (nothing written), replaces with it", async () => {
    await using f = await fixture();
    const id = await f.backup();
    const target = join(f.root, "restore");
    await mkdir(join(target, f.a), { recursive: true });
    await writeFile(join(target, f.a, "one.txt"), "mine\n");
    const err = await usageError(
      f.engine.restore({
        plan: "home",
        snapshot: "latest",
        target,
        paths: [],
        overwrite: false,
        signal,
      }),
    );
    expect(err.message).toBe(
      `restore into ${target} would overwrite what exists at ${join(target, f.a)}`,
    );
    expect(await readFile(join(target, f.a, "one.txt"), "utf8")).toBe("mine\n");
    expect(existsSync(join(target, f.b))).toBe(false);
    // Any id of the run stands for the whole backup.
    const second = id.split(",")[1] ?? "";
    await f.engine.restore({
      plan: "home",
      snapshot: second.slice(0, 10),
      target,
      paths: [],
      overwrite: true,
      signal,
    });
    expect(await readFile(join(target, f.a, "one.txt"), "utf8")).toBe("one\n");
    expect(await readFile(join(target, f.b, "three.txt"), "utf8")).toBe("three\n");
  });

  it("restores single paths, and names what the backup does not hold", async () => {
    await using f = await fixture();
    await f.backup();
    const target = join(f.root, "restore");
    await f.engine.restore({
      plan: "home",
      snapshot: "latest",
      target,
      paths: [join(f.a, "deep", "two.txt")],
      overwrite: false,
      signal,
    });
    expect(await readdir(join(target, f.a))).toEqual(["deep"]);
    expect(await readFile(join(target, f.a, "deep", "two.txt"), "utf8")).toBe("two\n");
    const missing = join(f.root, "elsewhere");
    expect(
      (
        await usageError(
          f.engine.restore({
            plan: "home",
            snapshot: "latest",
            target,
            paths: [missing],
            overwrite: false,
            signal,
          }),
        )
      ).message,
    ).toMatch(
      new RegExp(
        `^${missing} is not in backup \\w{8},\\w{8} of plan "home" \\(it holds ${f.a}, ${f.b}\\)$`,
      ),
    );
    expect(
      (
        await usageError(
          f.engine.restore({
            plan: "home",
            snapshot: "deadbeef",
            target,
            paths: [],
            overwrite: false,
            signal,
          }),
        )
      ).message,
    ).toBe('repository "offsite" has no backup deadbeef of plan "home"');
    expect(
      (
        await usageError(
          f.engine.restore({
            plan: "nothing",
            snapshot: "latest",
            target,
            paths: [],
            overwrite: false,
            signal,
          }),
        )
      ).message,
    ).toBe('plan "nothing" has no backup in repository "offsite"');
  });

  it("checks every source with snapshot verify and reports a damaged repository", async () => {
    await using f = await fixture();
    await f.backup();
    expect(await f.engine.check({ readData: "10%", signal })).toEqual({
      ok: true,
      errors: [],
      readData: "10%",
      sources: [`root@test-host:${f.a}`, `root@test-host:${f.b}`],
    });
    const verify = (await f.k.calls()).find((c) => c.command === "snapshot verify");
    expect(verify?.argv).toEqual([
      `--config-file=${f.k.configFile}`,
      "snapshot",
      "verify",
      "--verify-files-percent=10",
      `--sources=root@test-host:${f.a}`,
      `--sources=root@test-host:${f.b}`,
    ]);
    await f.k.setMode("corrupt");
    const bad = await f.engine.check({ signal });
    expect(bad.ok).toBe(false);
    expect(bad.errors).toHaveLength(1);
    expect(bad.errors[0]).toMatch(
      new RegExp(`^failed on root@test-host:${f.a}@.*: error verifying k\\w+: object not found$`),
    );
    expect((await usageError(f.engine.check({ readData: "500M", signal }))).message).toMatch(
      /^--read-data 500M: kopia reads back a share of the files/,
    );
  });

  it("forgets through the sources' policy: a dry run removes nothing, then expire deletes", async () => {
    await using f = await fixture();
    await f.backup();
    await f.backup();
    const newest = (await f.backup()).split(",");
    const dry = await f.engine.forget({
      plan: "home",
      host: "ignored",
      rules: { last: 1 },
      dryRun: true,
      signal,
    });
    expect(dry.keep.map((s) => s.id).sort()).toEqual([...newest].sort());
    expect(dry.keep[0]?.reasons).toContain("latest-1");
    expect(dry.remove).toHaveLength(4);
    expect(await f.k.manifests()).toHaveLength(6);
    const real = await f.engine.forget({
      plan: "home",
      host: "ignored",
      rules: { last: 1 },
      dryRun: false,
      signal,
    });
    expect(real.remove).toHaveLength(4);
    expect((await f.k.manifests()).map((m) => m.id).sort()).toEqual([...newest].sort());
    expect(
      (await f.engine.forget({ plan: "home", host: "x", rules: {}, dryRun: false, signal })).remove,
    ).toEqual([]);
    await f.engine.prune(signal);
    expect((await f.k.calls()).at(-1)?.argv.slice(1)).toEqual(["maintenance", "run", "--full"]);
  });

  it("samples files with their recorded size and nanosecond mtime, and restores exactly those", async () => {
    await using f = await fixture();
    const id = await f.backup();
    const { files, total } = await f.engine.sampleFiles(id, 10, signal);
    expect(total).toBe(3);
    const one = files.find((x) => x.path === join(f.a, "one.txt"));
    expect(one).toEqual({
      path: join(f.a, "one.txt"),
      size: 4,
      mtimeNs: (await lstat(join(f.a, "one.txt"), { bigint: true })).mtimeNs,
    });
    expect((await f.engine.sampleFiles(id, 1, signal)).files).toHaveLength(1);
    const target = join(f.root, "spot");
    const r = await f.engine.restoreFiles({
      snapshotId: id,
      target,
      paths: [join(f.b, "three.txt"), join(f.root, "nope")],
      signal,
    });
    expect(r.errors).toEqual([`${join(f.root, "nope")}: not in backup ${id}`]);
    expect(await readFile(join(target, f.b, "three.txt"), "utf8")).toBe("three\n");
  });

  it("refuses stream backups clearly", async () => {
    await using f = await fixture();
    const err = await usageError(
      f.engine.restoreStream({
        snapshotId: "x",
        filename: "/db.sql",
        sink: { kind: "writable", label: "x", stream: process.stdout },
        signal,
      }),
    );
    expect(err.message).toBe(
      'repository "offsite": restoring /db.sql needs a stream backup, which snapback does not do with kopia yet',
    );
  });
});
