import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { createWorld, leftovers } from "./fixtures/cli.js";

/**
 * Hooks through a real run: a "service" marker is stopped before the snapshot and started
 * again right after it, before the engine runs — also when the engine then fails.
 */
function hookConfig(log: string): string {
  return ["before", "after_snapshot", "success", "failure", "finally"]
    .map(
      (when) =>
        `[[plans.p.hooks]]\nwhen = "${when}"\nshell = 'echo "${when} status=$SNAPBACK_STATUS" >> ${log}'`,
    )
    .join("\n");
}

describe("hooks in a run", () => {
  test("order on success, with the run's facts in the environment", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x");
    const log = join(w.dir, "hooks.log");
    await w.writeConfig(`${w.basicConfig([w.data])}\n${hookConfig(log)}\n`);
    const r = await w.cli(["backup"]);
    expect(r.exitCode).toBe(0);
    expect((await readFile(log, "utf8")).trim().split("\n")).toEqual([
      "before status=",
      "after_snapshot status=",
      "success status=success",
      "finally status=success",
    ]);
  });

  test("after_snapshot restarts the service even when the engine fails", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x");
    const log = join(w.dir, "hooks.log");
    // An exclude pattern restic rejects: the engine fails after the snapshot was taken.
    await w.writeConfig(`${w.basicConfig([w.data], 'exclude = ["["]')}\n${hookConfig(log)}\n`);
    const r = await w.cli(["backup"]);
    expect(r.exitCode).toBe(1);
    expect((await readFile(log, "utf8")).trim().split("\n")).toEqual([
      "before status=",
      "after_snapshot status=",
      "failure status=failed",
      "finally status=failed",
    ]);
    expect(await leftovers(w)).toEqual([]);
  });

  test("a failing before hook aborts the run before any snapshot", async () => {
    await using w = await createWorld();
    const log = join(w.dir, "hooks.log");
    await w.writeConfig(
      `${w.basicConfig([w.data])}\n[[plans.p.hooks]]\nwhen = "before"\nname = "stop-db"\nrun = ["false"]\n${hookConfig(log)}\n`,
    );
    const r = await w.cli(["--json", "backup"]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain("before hook stop-db exited with code 1");
    expect(r.stdout).not.toContain('"type":"snapshots"');
    expect((await readFile(log, "utf8")).trim().split("\n")).toEqual([
      "after_snapshot status=",
      "failure status=failed",
      "finally status=failed",
    ]);
    expect(await w.repo.snapshots()).toEqual([]);
    expect(await leftovers(w)).toEqual([]);
  });
});
