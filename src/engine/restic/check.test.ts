import { lstat, open, readdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createTestRepo } from "../../../test/fixtures/restic.js";
import { UsageError } from "../../errors.js";
import { backup } from "./backup.js";
import {
  checkArgs,
  checkRepository,
  literalPattern,
  parseLsFile,
  parseTimeNs,
  restoreFiles,
  sampleFiles,
} from "./check.js";
import { ResticError } from "./errors.js";
import {
  backupRequest,
  plan,
  resticRepo,
  secretsOf,
  tempDir,
  writeRandomFile,
} from "./test-support.js";

/** Overwrites bytes in the middle of the largest pack: the data of the big file. */
async function corruptLargestPack(repoDir: string): Promise<void> {
  const packs: { path: string; size: number }[] = [];
  for (const sub of await readdir(join(repoDir, "data"))) {
    for (const name of await readdir(join(repoDir, "data", sub))) {
      const path = join(repoDir, "data", sub, name);
      packs.push({ path, size: (await stat(path)).size });
    }
  }
  const largest = packs.sort((a, b) => b.size - a.size)[0];
  if (!largest) throw new Error("no pack");
  const fh = await open(largest.path, "r+");
  try {
    await fh.write(Buffer.alloc(64, 0x58), 0, 64, Math.floor(largest.size / 2));
  } finally {
    await fh.close();
  }
}

describe("check arguments and parsing", () => {
  it("maps --read-data to restic's flags and refuses what restic would not take", () => {
    expect(checkArgs()).toEqual(["check"]);
    expect(checkArgs("all")).toEqual(["check", "--read-data"]);
    for (const ok of ["1/5", "5/5", "10%", "2.5%", "100%", "500M", "2G", "1k"]) {
      expect(checkArgs(ok)).toEqual(["check", `--read-data-subset=${ok}`]);
    }
    for (const bad of ["0/5", "6/5", "0%", "101%", "100", "10 %", "5X", "", "all,1/2"]) {
      expect(() => checkArgs(bad), bad).toThrow(UsageError);
    }
  });

  it("parses restic timestamps to the nanosecond and ls lines of 0.14 and newer", () => {
    expect(parseTimeNs("2024-01-02T03:04:05.123456789Z")).toBe(1704164645123456789n);
    expect(parseTimeNs("2024-01-02T04:04:05.1+01:00")).toBe(1704164645100000000n);
    expect(parseTimeNs("2024-01-02T03:04:05Z")).toBe(1704164645000000000n);
    expect(parseTimeNs("yesterday")).toBeUndefined();
    const file = {
      name: "f",
      type: "file",
      path: "/a/f",
      size: 3,
      mtime: "2024-01-02T03:04:05.5Z",
    };
    expect(parseLsFile(JSON.stringify({ ...file, struct_type: "node" }))).toEqual({
      path: "/a/f",
      size: 3,
      mtimeNs: 1704164645500000000n,
    });
    expect(parseLsFile(JSON.stringify({ ...file, message_type: "node" }))?.path).toBe("/a/f");
    expect(
      parseLsFile(JSON.stringify({ ...file, type: "dir", struct_type: "node" })),
    ).toBeUndefined();
    expect(parseLsFile(JSON.stringify({ struct_type: "snapshot", id: "x" }))).toBeUndefined();
    expect(parseLsFile("not json")).toBeUndefined();
    expect(literalPattern("/a/[x]*?\\b")).toBe("/a/\\[x\\]\\*\\?\\\\b");
  });
});

describe("check, sample and restore against a real repository", () => {
  it("samples with recorded metadata, restores exact odd names, and reports a damaged pack without mistaking it for a wrong password", async () => {
    await using t = await createTestRepo();
    await using src = await tempDir("check-src");
    await using out = await tempDir("check-out");
    await writeRandomFile(join(src.path, "big"), 3);
    const names = ["a[1]", "a1", "b*", "bc", "x\\y", "plain"];
    for (const n of names) await writeFile(join(src.path, n), `content of ${n}\n`);
    await utimes(
      join(src.path, "plain"),
      new Date("2020-05-06T07:08:09.123Z"),
      new Date("2020-05-06T07:08:09.123Z"),
    );
    const repo = resticRepo(t.url, t.passwordFile);
    const secrets = await secretsOf(repo);
    const cacheDir = join(t.dir, "cache");
    const target = { repoName: "test", repo, secrets };
    const summary = await backup(
      backupRequest({ plan: plan([src.path]), repo, secrets, paths: [src.path] }),
      { cacheDir },
    );

    const all = await sampleFiles(target, summary.snapshotId, 100, { cacheDir });
    expect(all.total).toBe(7);
    expect(all.files.map((f) => f.path)).toEqual(
      ["big", ...names].map((n) => join(src.path, n)).sort((a, b) => a.localeCompare(b)),
    );
    for (const f of all.files) {
      const st = await lstat(f.path, { bigint: true });
      expect([f.size, f.mtimeNs], f.path).toEqual([Number(st.size), st.mtimeNs]);
    }
    const two = await sampleFiles(target, summary.snapshotId, 2, { cacheDir });
    expect(two.total).toBe(7);
    expect(new Set(two.files.map((f) => f.path)).size).toBe(2);

    const wanted = ["a[1]", "b*", "x\\y"].map((n) => join(src.path, n));
    expect(
      await restoreFiles(
        target,
        { snapshotId: summary.snapshotId, target: out.path, paths: wanted },
        { cacheDir },
      ),
    ).toEqual({ errors: [] });
    expect((await readdir(join(out.path, src.path))).sort()).toEqual(["a[1]", "b*", "x\\y"]);
    expect(await readFile(join(out.path, src.path, "b*"), "utf8")).toBe("content of b*\n");

    expect(await checkRepository(target, { cacheDir })).toEqual({ ok: true, errors: [] });
    await corruptLargestPack(t.url);
    const read = await checkRepository(target, { cacheDir, readData: "all" });
    expect(read.ok).toBe(false);
    expect(read.readData).toBe("all");
    expect(read.errors.join("\n")).toMatch(/does not match|repository contains errors/);

    const big = join(src.path, "big");
    const damaged = await restoreFiles(
      target,
      {
        snapshotId: summary.snapshotId,
        target: join(out.path, "2"),
        paths: [big, join(src.path, "plain")],
      },
      { cacheDir },
    );
    expect(damaged.errors.some((e) => e.includes(big))).toBe(true);
    expect(await readFile(join(out.path, "2", src.path, "plain"), "utf8")).toBe(
      "content of plain\n",
    );

    const wrong = await secretsOf(resticRepo(t.url, t.passwordFile));
    wrong.password = "not the password";
    const e = await checkRepository({ ...target, secrets: wrong }, { cacheDir }).catch(
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(ResticError);
    expect((e as ResticError).kind).toBe("wrong-password");
  });
});
