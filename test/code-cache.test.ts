import { cp, readFile, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { describe, expect, test } from "vitest";
import { run } from "../src/exec/index.js";
import { CLI, oneRepositoryConfig, writeConfigFile } from "./fixtures/cli.js";
import { tempDir } from "./fixtures/tempdir.js";

/**
 * The built CLI loads its app with the V8 code cache the build wrote (src/cli/load-app.ts). A
 * cache this node rejects, or none, must cost only time: same output, named at --verbose.
 */
describe("the app's V8 code cache", () => {
  const DIST = dirname(CLI);

  async function validate(entry: string, dir: string) {
    const config = join(dir, "config.toml");
    await writeFile(join(dir, "password"), "x\n", { mode: 0o600 });
    await writeConfigFile(
      config,
      oneRepositoryConfig({
        stateDir: join(dir, "state"),
        repo: "r",
        repoKeys: [
          'engine = "restic"',
          `url = "${join(dir, "repo")}"`,
          `password_file = "${join(dir, "password")}"`,
        ],
        sources: [dir],
        extraPlan: 'snapshot = "none"',
      }),
    );
    return run(process.execPath, [entry, "--verbose", "--config", config, "config", "validate"], {
      reject: false,
    });
  }

  /** dist/ copied, with `cache` as the app's code cache (undefined: none). */
  async function copyOfDist(dir: string, cache: Buffer | undefined): Promise<string> {
    const copy = join(dir, "dist");
    await cp(DIST, copy, {
      recursive: true,
      filter: (src) => !src.endsWith(".map") && !src.endsWith(".cache"),
    });
    if (cache) await writeFile(join(copy, "chunks/app.cjs.cache"), cache);
    // better-sqlite3 stays external: found from the copy as from dist/.
    await symlink(join(DIST, "../node_modules"), join(copy, "node_modules"));
    return join(copy, "snapback.js");
  }

  test("the build's cache is accepted: nothing said", async () => {
    await using dir = await tempDir("code-cache");
    const r = await validate(CLI, dir.path);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/valid/);
    expect(r.stderr).not.toMatch(/code cache/);
  });

  test("a cache this node rejects: the command works, --verbose says why it is slower", async () => {
    await using dir = await tempDir("code-cache");
    const good = await readFile(join(DIST, "chunks/app.cjs.cache"));
    // Same size, wrong bytes: V8's checksum refuses it.
    const entry = await copyOfDist(dir.path, Buffer.alloc(good.length, 0x5a));
    const r = await validate(entry, dir.path);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/valid/);
    expect(r.stderr).toMatch(/V8 code cache rejected by this node binary or its flags/);
  });

  test("no cache at all: the command works, --verbose says it is missing", async () => {
    await using dir = await tempDir("code-cache");
    const entry = await copyOfDist(dir.path, undefined);
    const r = await validate(entry, dir.path);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/valid/);
    expect(r.stderr).toMatch(/V8 code cache missing/);
  });
});
