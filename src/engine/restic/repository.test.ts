import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { createTestRepo, TEST_PASSWORD, testRestic } from "../../../test/fixtures/restic.js";
import { runRestic } from "./command.js";
import { ResticError } from "./errors.js";
import { ensureRepository } from "./repository.js";
import { resticRepo, secretsOf } from "./test-support.js";

async function rejection(p: Promise<unknown>): Promise<ResticError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ResticError);
  return e as ResticError;
}

describe("ensureRepository", () => {
  it("opens an existing repository without creating anything", async () => {
    await using t = await createTestRepo();
    const repo = resticRepo(t.url, t.passwordFile);
    const argv: string[][] = [];
    const r = await ensureRepository("test", repo, await secretsOf(repo), false, {
      cacheDir: join(t.dir, "cache"),
      onCommand: (file, args) => argv.push([file, ...args]),
    });
    expect(r).toEqual({ created: false });
    expect(argv).toEqual([[(await testRestic()).path, "cat", "config", "--no-lock"]]);
    expect(await readdir(join(t.url, "locks"))).toEqual([]);
  });

  it("refuses a missing repository when init is false, creating nothing", async () => {
    await using t = await createTestRepo(false);
    const repo = resticRepo(t.url, t.passwordFile);
    const e = await rejection(
      ensureRepository("offsite", repo, await secretsOf(repo), false, {
        cacheDir: join(t.dir, "cache"),
      }),
    );
    expect(e.kind).toBe("repo-missing");
    expect(e.message).toBe(
      `repository "offsite" does not exist at ${t.url} (set init = true to create it)`,
    );
    expect(e.exitCode).toBe(2);
    expect(existsSync(t.url)).toBe(false);
  });

  it("creates a missing repository when init is true, once", async () => {
    await using t = await createTestRepo(false);
    const repo = resticRepo(t.url, t.passwordFile, { init: true });
    const secrets = await secretsOf(repo);
    const options = { cacheDir: join(t.dir, "cache") };
    expect(await ensureRepository("test", repo, secrets, true, options)).toEqual({ created: true });
    expect(await ensureRepository("test", repo, secrets, true, options)).toEqual({
      created: false,
    });
    // The fixture opens it with the configured password.
    expect(await t.snapshots()).toEqual([]);
  });

  it("says wrong password, naming the repository and not the password", async () => {
    await using t = await createTestRepo();
    const repo = resticRepo(t.url, t.passwordFile);
    const secrets = { password: "not the password", env: {} };
    const e = await rejection(
      ensureRepository("offsite", repo, secrets, true, { cacheDir: join(t.dir, "cache") }),
    );
    expect(e.kind).toBe("wrong-password");
    expect(e.message).toBe('repository "offsite": wrong password');
    expect(e.stderrTail).toContain("wrong password");
    expect(e.stderrTail).not.toContain("not the password");
  });

  it("reports an unreachable REST server without leaking the URL's credentials", async () => {
    await using t = await createTestRepo(false);
    const url = "rest:http://backup:hunter22@127.0.0.1:1/";
    const repo = resticRepo(url, t.passwordFile);
    const argv: string[] = [];
    const e = await rejection(
      ensureRepository("offsite", repo, await secretsOf(repo), true, {
        cacheDir: join(t.dir, "cache"),
        onCommand: (file, args) => argv.push(file, ...args),
      }),
    );
    expect(e.kind).toBe("unreachable");
    expect(e.message).toMatch(
      /^repository "offsite" at rest:http:\/\/127\.0\.0\.1:1\/ is unreachable: /,
    );
    expect(e.message).toContain("connection refused");
    for (const text of [e.message, e.stderrTail, argv.join(" ")]) {
      expect(text).not.toContain("hunter22");
      expect(text).not.toContain(TEST_PASSWORD);
    }
    expect(argv.join(" ")).not.toContain("127.0.0.1");
  });
});

describe("runRestic", () => {
  it("classifies a lock held by another restic as locked (exit 4)", async () => {
    await using t = await createTestRepo();
    const repo = resticRepo(t.url, t.passwordFile);
    const target = { repoName: "offsite", repo, secrets: await secretsOf(repo) };
    // A backup reading stdin holds its lock until stdin ends: a lock that stays put.
    const stdin = new PassThrough();
    const holder = runRestic(target, ["backup", "--stdin", "--stdin-filename=held"], {
      action: "backup",
      cacheDir: join(t.dir, "cache"),
      stdin,
    });
    try {
      while ((await readdir(join(t.url, "locks"))).length === 0) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const e = await rejection(
        runRestic(target, ["prune"], { action: "prune", cacheDir: join(t.dir, "cache") }),
      );
      expect(e.kind).toBe("locked");
      expect(e.exitCode).toBe(4);
      expect(e.message).toMatch(/^repository "offsite" is locked by another restic process: /);
    } finally {
      stdin.end("data");
      await holder;
    }
    expect(await readdir(join(t.url, "locks"))).toEqual([]);
  });
});
