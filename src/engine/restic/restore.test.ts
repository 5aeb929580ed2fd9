import { existsSync } from "node:fs";
import { chmod, lstat, mkdir, readdir, readFile, utimes, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { createTestRepo, type TestRepo } from "../../../test/fixtures/restic.js";
import type { RepositorySecrets } from "../../config/secrets.js";
import type { Repository } from "../../config/schema.js";
import { UsageError } from "../../errors.js";
import { backup } from "./backup.js";
import { restore, type RestoreRequest } from "./restore.js";
import {
  backupRequest,
  plan,
  resticRepo,
  secretsOf,
  tempDir,
  type TempDir,
} from "./test-support.js";

interface Fixture extends AsyncDisposable {
  t: TestRepo;
  src: TempDir;
  repo: Repository;
  secrets: RepositorySecrets;
  cacheDir: string;
  snapshotId: string;
  request(target: string, extra?: Partial<RestoreRequest>): RestoreRequest;
}

/** A repository holding one backup of plan "home": files with distinct modes and old mtimes. */
async function backedUpSource(): Promise<Fixture> {
  const t = await createTestRepo();
  const src = await tempDir("src");
  try {
    await mkdir(join(src.path, "sub", "deep"), { recursive: true });
    await writeFile(join(src.path, "a"), "alpha\n");
    await writeFile(join(src.path, "sub", "b"), "bravo\n");
    await writeFile(join(src.path, "sub", "deep", "c"), "charlie\n");
    await chmod(join(src.path, "a"), 0o640);
    await chmod(join(src.path, "sub", "b"), 0o755);
    await chmod(join(src.path, "sub", "deep"), 0o700);
    const old = new Date("2021-03-04T05:06:07.123Z");
    for (const p of ["a", "sub/b", "sub/deep/c", "sub/deep", "sub"]) {
      await utimes(join(src.path, p), old, old);
    }
    const repo = resticRepo(t.url, t.passwordFile);
    const secrets = await secretsOf(repo);
    const cacheDir = join(t.dir, "cache");
    const summary = await backup(
      backupRequest({ plan: plan([src.path]), repo, secrets, paths: [src.path] }),
      { cacheDir },
    );
    return {
      t,
      src,
      repo,
      secrets,
      cacheDir,
      snapshotId: summary.snapshotId,
      request: (target, extra = {}) => ({
        planName: "home",
        repoName: "test",
        repo,
        secrets,
        snapshot: "latest",
        target,
        overwrite: false,
        cacheDir,
        ...extra,
      }),
      async [Symbol.asyncDispose]() {
        await src[Symbol.asyncDispose]();
        await t[Symbol.asyncDispose]();
      },
    };
  } catch (e) {
    await src[Symbol.asyncDispose]();
    await t[Symbol.asyncDispose]();
    throw e;
  }
}

/** Relative path → content, mode and mtime (ns) of every entry under `root`. */
async function tree(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const p = join(dir, name);
      const st = await lstat(p, { bigint: true });
      const content = st.isFile() ? await readFile(p, "utf8") : "<dir>";
      out.set(
        relative(root, p),
        `${content} mode=${(st.mode & 0o7777n).toString(8)} mtime=${st.mtimeNs}`,
      );
      if (st.isDirectory()) await walk(p);
    }
  };
  await walk(root);
  return out;
}

async function usageError(p: Promise<unknown>): Promise<UsageError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(UsageError);
  return e as UsageError;
}

describe("restore", () => {
  it("restores the latest backup into an empty dir: content, mode and mtime", async () => {
    await using f = await backedUpSource();
    await using target = await tempDir("target");
    const r = await restore(f.request(target.path));
    expect(r.snapshot.id).toBe(f.snapshotId);
    const restored = join(target.path, f.src.path);
    expect(await tree(restored)).toEqual(await tree(f.src.path));
    expect([...(await tree(restored)).keys()]).toEqual([
      "a",
      "sub",
      "sub/b",
      "sub/deep",
      "sub/deep/c",
    ]);
  });

  it("refuses to overwrite an existing file, touching nothing", async () => {
    await using f = await backedUpSource();
    await using target = await tempDir("target");
    const local = join(target.path, f.src.path, "a");
    await mkdir(join(target.path, f.src.path), { recursive: true });
    await writeFile(local, "local change\n");
    const e = await usageError(restore(f.request(target.path)));
    expect(e.message).toBe(`restore into ${target.path} would overwrite 1 existing file: ${local}`);
    expect(e.hint).toContain("--overwrite");
    expect(await readFile(local, "utf8")).toBe("local change\n");
    expect(existsSync(join(target.path, f.src.path, "sub"))).toBe(false);
  });

  it("replaces existing files with overwrite", async () => {
    await using f = await backedUpSource();
    await using target = await tempDir("target");
    const local = join(target.path, f.src.path, "a");
    await mkdir(join(target.path, f.src.path), { recursive: true });
    await writeFile(local, "local change\n");
    await restore(f.request(target.path, { overwrite: true }));
    expect(await readFile(local, "utf8")).toBe("alpha\n");
    expect(await tree(join(target.path, f.src.path))).toEqual(await tree(f.src.path));
  });

  it("if-newer replaces only the files the backup holds a newer copy of, with and without paths", async () => {
    for (const onlySub of [false, true]) {
      await using f = await backedUpSource();
      await using target = await tempDir("target");
      const root = join(target.path, f.src.path);
      await mkdir(join(root, "sub", "deep"), { recursive: true });
      // Older than the backup's copy (2021): replaced. Newer (now): kept. Missing: restored.
      await writeFile(join(root, "sub", "b"), "old local\n");
      const older = new Date("2020-01-01T00:00:00Z");
      await utimes(join(root, "sub", "b"), older, older);
      await writeFile(join(root, "sub", "deep", "c"), "newer local\n");
      const paths = onlySub ? [join(f.src.path, "sub")] : undefined;
      await restore(
        f.request(target.path, {
          overwrite: true,
          ifNewer: true,
          ...(paths ? { include: paths } : {}),
        }),
      );
      expect(await readFile(join(root, "sub", "b"), "utf8")).toBe("bravo\n");
      expect(await readFile(join(root, "sub", "deep", "c"), "utf8")).toBe("newer local\n");
      if (!paths) expect(await readFile(join(root, "a"), "utf8")).toBe("alpha\n");
      else expect(existsSync(join(root, "a"))).toBe(false);
    }
  });

  it("restores only the included original path, by snapshot prefix", async () => {
    await using f = await backedUpSource();
    await using target = await tempDir("target");
    const sub = join(f.src.path, "sub");
    await restore(
      f.request(target.path, { include: [`${sub}/`], snapshot: f.snapshotId.slice(0, 8) }),
    );
    expect(existsSync(join(target.path, f.src.path, "a"))).toBe(false);
    expect(await tree(join(target.path, sub))).toEqual(await tree(sub));
  });

  it("checks conflicts only within the included path", async () => {
    await using f = await backedUpSource();
    await using target = await tempDir("target");
    // "a" exists in the target but is not being restored.
    await mkdir(join(target.path, f.src.path), { recursive: true });
    await writeFile(join(target.path, f.src.path, "a"), "keep\n");
    await restore(f.request(target.path, { include: [join(f.src.path, "sub", "deep")] }));
    expect(await readFile(join(target.path, f.src.path, "a"), "utf8")).toBe("keep\n");
    expect(await readFile(join(target.path, f.src.path, "sub", "deep", "c"), "utf8")).toBe(
      "charlie\n",
    );
  });

  it("rejects paths that are not in the backup, unknown snapshots and other plans' latest", async () => {
    await using f = await backedUpSource();
    await using target = await tempDir("target");
    const missing = join(f.src.path, "nope");
    expect(
      (await usageError(restore(f.request(target.path, { include: [missing] })))).message,
    ).toBe(
      `${missing} is not in backup ${f.snapshotId.slice(0, 8)} of plan "home" (it holds ${f.src.path})`,
    );
    expect(
      (await usageError(restore(f.request(target.path, { include: ["rel/path"] })))).message,
    ).toBe("--path rel/path: must be an absolute path as it was backed up");
    expect(
      (await usageError(restore(f.request(target.path, { snapshot: "deadbeef" })))).message,
    ).toBe('repository "test" has no backup deadbeef of plan "home"');
    expect((await usageError(restore(f.request(target.path, { planName: "other" })))).message).toBe(
      'plan "other" has no backup in repository "test"',
    );
    expect(await readdir(target.path)).toEqual([]);
  });

  it("takes latest from the plan's own backups", async () => {
    await using f = await backedUpSource();
    await using other = await tempDir("other");
    await using target = await tempDir("target");
    await writeFile(join(other.path, "o"), "other plan\n");
    await backup(
      backupRequest({
        planName: "other",
        plan: plan([other.path]),
        repo: f.repo,
        secrets: f.secrets,
        paths: [other.path],
      }),
      { cacheDir: f.cacheDir },
    );
    const r = await restore(f.request(target.path));
    expect(r.snapshot.id).toBe(f.snapshotId);
    expect(existsSync(join(target.path, f.src.path, "a"))).toBe(true);
    expect(existsSync(join(target.path, other.path))).toBe(false);
  });
});
