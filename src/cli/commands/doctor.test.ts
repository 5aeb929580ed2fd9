import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { loadConfig } from "../../config/load.js";
import { configChecks } from "./doctor.js";

async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await mkdtemp(join(tmpdir(), "snapback-doctor-test-"));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

describe("doctor: which config it checks", () => {
  test("no --config and no default config: a warning naming the default path, nothing loaded", async () => {
    await using dir = await tempDir();
    const absent = join(dir.path, "snapback.toml");
    let loads = 0;
    const checks = await configChecks(
      undefined,
      () => {
        loads++;
        return loadConfig(absent);
      },
      {},
      absent,
    );
    expect(loads).toBe(0);
    expect(checks).toEqual([
      expect.objectContaining({
        name: "config",
        ok: false,
        required: false,
        detail: `no config at ${absent}`,
      }),
    ]);
  });

  test("no --config but a default config exists: it is loaded and checked against this machine", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "snapback.toml");
    const missing = join(dir.path, "no-such-source");
    await writeFile(
      path,
      `state_dir = "${dir.path}/state"\n[repositories.r]\nengine = "restic"\nurl = "${dir.path}/repo"\npassword_file = "${dir.path}/pass"\n[plans.p]\nsources = ["${missing}"]\nrepositories = ["r"]\n`,
      { mode: 0o600 },
    );
    const checks = await configChecks(undefined, () => loadConfig(path), {}, path);
    expect(checks[0]).toMatchObject({ name: "config", ok: true, detail: `${path}: valid` });
    expect(checks.find((c) => c.name === "plans.p.sources")).toMatchObject({
      ok: false,
      required: true,
      detail: `plans.p.sources: ${missing} does not exist`,
    });
    expect(checks.find((c) => c.name === "repositories.r")).toMatchObject({
      ok: false,
      detail: expect.stringContaining(`${dir.path}/pass does not exist`) as unknown,
    });
  });

  test("a named config that does not load is a failure", async () => {
    await using dir = await tempDir();
    const path = join(dir.path, "nope.toml");
    const checks = await configChecks(path, () => loadConfig(path), {}, "/nonexistent");
    expect(checks).toEqual([
      expect.objectContaining({ name: "config", ok: false, required: true }),
    ]);
    expect(checks[0]?.detail).toContain("does not exist");
  });
});
