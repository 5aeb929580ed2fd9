import { access, chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { probeRestic } from "../src/engine/restic/index.js";
import { run } from "../src/exec/index.js";
import { createWorld, leftovers, type World } from "./fixtures/cli.js";

/** A `restic` first on PATH that logs its arguments and runs the real one. */
async function loggingRestic(
  w: World,
): Promise<{ env: NodeJS.ProcessEnv; calls: () => Promise<string[]> }> {
  const real = (await probeRestic()).path;
  const log = join(w.dir, "restic-calls.log");
  await writeFile(log, "");
  await writeFile(
    join(w.dir, "restic"),
    `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec '${real}' "$@"\n`,
  );
  await chmod(join(w.dir, "restic"), 0o755);
  return {
    env: { ...process.env, PATH: `${w.dir}:${process.env["PATH"] ?? ""}` },
    async calls() {
      const lines = (await readFile(log, "utf8")).split("\n").filter(Boolean);
      await writeFile(log, "");
      return lines.map((l) => l.split(" ").slice(0, 2).join(" "));
    },
  };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

describe("the fixed cost of a run (real btrfs, real restic)", () => {
  test("without a before hook or a dump, a run opens a quiet local repository once: in the backup", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x\n");
    await w.writeConfig(w.basicConfig([w.data]));
    const restic = await loggingRestic(w);

    expect((await w.cli(["backup"], { env: restic.env })).exitCode).toBe(0);
    const first = await restic.calls();
    // The first run probes the binary (version, features) and keeps what it learnt.
    expect(first.filter((c) => c.startsWith("version"))).toHaveLength(1);
    expect(first.filter((c) => c.startsWith("backup"))).toHaveLength(1);

    expect((await w.cli(["backup"], { env: restic.env })).exitCode).toBe(0);
    // The second: no probe, no pre-open (list locks), no snapshot id lookup — restic backup only.
    expect(await restic.calls()).toEqual(["backup --json"]);
    expect(await w.repo.snapshots()).toHaveLength(2);
    expect(await leftovers(w)).toEqual([]);
  });

  test("with a before hook, a wrong password still fails before the hook runs", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x\n");
    const wrong = join(w.dir, "wrong.pass");
    await writeFile(wrong, "not the password\n", { mode: 0o600 });
    const marker = join(w.dir, "service-stopped");
    await w.writeConfig(
      w
        .basicConfig([w.data], `[[plans.p.hooks]]\nwhen = "before"\nrun = ["touch", "${marker}"]`)
        .replace(w.repo.passwordFile, wrong),
    );
    const restic = await loggingRestic(w);
    const r = await w.cli(["backup"], { env: restic.env });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/repository "r".*wrong password/);
    expect(await exists(marker)).toBe(false);
    expect((await restic.calls()).filter((c) => c.startsWith("backup"))).toEqual([]);
    expect(await leftovers(w)).toEqual([]);
  });

  test("without hooks, a wrong password is found by the backup: exit 2, nothing left", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x\n");
    const wrong = join(w.dir, "wrong.pass");
    await writeFile(wrong, "not the password\n", { mode: 0o600 });
    await w.writeConfig(w.basicConfig([w.data]).replace(w.repo.passwordFile, wrong));
    const restic = await loggingRestic(w);
    const r = await w.cli(["backup"], { env: restic.env });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/repository "r".*wrong password/);
    expect((await restic.calls()).filter((c) => c.startsWith("list"))).toEqual([]);
    expect(await w.repo.snapshots()).toHaveLength(0);
    expect(await leftovers(w)).toEqual([]);
  });

  test("the mount table is read in-process: a mount hidden below a source is still named", async () => {
    await using w = await createWorld();
    const hidden = join(w.data, "mnt");
    await mkdir(hidden);
    await run("mount", ["-t", "tmpfs", "-o", "size=1m", "snapback-test-hidden", hidden]);
    try {
      await w.writeConfig(w.basicConfig([w.data]));
      const r = await w.cli(["backup", "--dry-run"]);
      expect(r.exitCode).toBe(0);
      expect(r.stdout + r.stderr).toContain(
        `${hidden} (tmpfs) is mounted below ${w.data} but is not a source`,
      );
    } finally {
      await run("umount", [hidden]);
    }
  });
});
