import { access, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { probeRestic, versionAtLeast } from "../src/engine/restic/index.js";
import { createWorld, leftovers } from "./fixtures/cli.js";

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

describe("restic flags from the config (real btrfs, real restic)", () => {
  test("extra_args and first-class keys reach restic after snapback's own flags", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "keep.txt"), "keep\n");
    await writeFile(join(w.data, "big.skip"), "skip\n");
    await w.writeConfig(
      w.basicConfig(
        [w.data],
        'extra_args = ["--exclude=*.skip"]\n[plans.p.retention]\nkeep_last = 1',
        'compression = "max"\npack_size = 8\nextra_args = { backup = ["--exclude-caches"], prune = ["--max-unused=0"] }',
      ),
    );

    const dry = await w.cli(["backup", "--dry-run"]);
    expect(dry.exitCode).toBe(0);
    const line = dry.stdout.split("\n").find((l) => l.includes("restic --compression")) ?? "";
    expect(line).toContain(`restic --compression=max --pack-size=8 backup --json --host=`);
    expect(line).toContain(`--exclude=*.skip --exclude-caches -- ${w.data}`);

    expect((await w.cli(["backup"])).exitCode).toBe(0);
    const second = await w.cli(["--verbose", "backup"]);
    expect(second.exitCode).toBe(0);
    const ls = await w.repo.restic(["ls", "latest"]);
    expect(ls).toContain(join(w.data, "keep.txt"));
    expect(ls).not.toContain("big.skip");
    // retention ran forget and prune with the repository's prune flags: one snapshot is left
    expect(await w.repo.snapshots()).toHaveLength(1);
    expect(await leftovers(w)).toEqual([]);
  });

  test("an extra flag restic does not know fails the command it was given to (prune), naming it", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "a"), "a\n");
    await w.writeConfig(
      w.basicConfig(
        [w.data],
        "[plans.p.retention]\nkeep_last = 1",
        'extra_args = { prune = ["--no-such-prune-flag"] }',
      ),
    );
    expect((await w.cli(["backup"])).exitCode).toBe(0);
    // The second backup leaves one to forget: prune runs with the flag, and restic rejects
    // it, naming it (the backup itself stands: one snapshot was forgotten, none pruned).
    const second = await w.cli(["--json", "backup"]);
    expect(second.stdout + second.stderr).toMatch(/unknown flag: --no-such-prune-flag/);
    expect(await w.repo.snapshots()).toHaveLength(1);
    expect(await leftovers(w)).toEqual([]);
  });

  test("a flag snapback owns is refused with exit 2 before anything runs", async () => {
    await using w = await createWorld();
    await w.writeConfig(w.basicConfig([w.data], 'extra_args = ["--tag=x", "--host=other"]'));
    const r = await w.cli(["backup"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('plans.p.extra_args.backup[0]: "--tag=x": --tag is set by snapback');
    expect(r.stderr).toContain("plans.p.extra_args.backup[1]");
    expect(await w.repo.snapshots()).toHaveLength(0);
  });

  test("read_concurrency is checked against the binary's version before any before hook", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "a"), "a\n");
    const marker = join(w.dir, "before-ran");
    await w.writeConfig(
      w.basicConfig(
        [w.data],
        `read_concurrency = 3\n[[plans.p.hooks]]\nwhen = "before"\nrun = ["touch", "${marker}"]`,
      ),
    );
    const restic = await probeRestic();
    const r = await w.cli(["backup"]);
    if (versionAtLeast(restic.semver, 0, 15)) {
      expect(r.exitCode).toBe(0);
      expect(await exists(marker)).toBe(true);
    } else {
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain(
        `plans.p.read_concurrency = 3: ${restic.path} is restic ${restic.version}, which has no --read-concurrency (needs restic 0.15 or newer)`,
      );
      expect(await exists(marker)).toBe(false);
      expect(await w.repo.snapshots()).toHaveLength(0);
    }
    expect(await leftovers(w)).toEqual([]);
  });
});
