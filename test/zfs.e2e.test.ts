import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { run } from "../src/exec/index.js";
import { createWorld, leftovers } from "./fixtures/cli.js";
import { createZfsPool, snapbackObjectsIn } from "./fixtures/zfs.js";

interface JsonEvent {
  type: string;
  [k: string]: unknown;
}
const events = (stdout: string): JsonEvent[] =>
  stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as JsonEvent);

describe("ZFS sources end to end (real zfs-fuse)", () => {
  test("original paths, children, unchanged incremental, nothing left", async () => {
    await using pool = await createZfsPool(256);
    await using w = await createWorld();
    const home = await pool.dataset("home");
    const child = await pool.dataset("home/alice");
    for (let i = 0; i < 10; i++) await writeFile(join(home.mountpoint, `h${i}`), `home ${i}\n`);
    await writeFile(join(child.mountpoint, "a.txt"), "alice\n");
    await w.writeConfig(w.basicConfig([home.mountpoint]));

    const first = await w.cli(["--json", "backup"]);
    expect(first.stderr).not.toMatch(/error/);
    expect(first.exitCode).toBe(0);
    const result = events(first.stdout).find((e) => e.type === "result");
    expect(result?.["nested"]).toEqual([child.mountpoint]);
    const snaps = await w.repo.snapshots();
    expect(snaps[0]?.paths).toEqual([home.mountpoint]);
    expect(await w.repo.restic(["ls", "latest"])).toContain(join(child.mountpoint, "a.txt"));

    const second = await w.cli(["--json", "backup"]);
    expect(second.exitCode).toBe(0);
    const summary = events(second.stdout).find((e) => e.type === "summary");
    expect(summary).toMatchObject({
      files_new: 0,
      files_changed: 0,
      files_unmodified: 11,
      data_blobs: 0,
    });
    expect(await snapbackObjectsIn(pool.pool)).toEqual([]);
    expect(await leftovers(w)).toEqual([]);
  });

  test("a mixed plan: btrfs, two ZFS datasets (one atomic group) and a plain directory in one backup", async () => {
    await using pool = await createZfsPool(256);
    await using w = await createWorld();
    const a = await pool.dataset("a");
    const b = await pool.dataset("b");
    await writeFile(join(a.mountpoint, "fa"), "a\n");
    await writeFile(join(b.mountpoint, "fb"), "b\n");
    await writeFile(join(w.data, "fbtrfs"), "btrfs\n");
    const plain = join(w.dir, "plain");
    await mkdir(plain);
    await writeFile(join(plain, "fplain"), "plain\n");
    await w.writeConfig(w.basicConfig([w.data, a.mountpoint, b.mountpoint, plain]));

    const r = await w.cli(["--json", "backup"]);
    expect(r.exitCode).toBe(0);
    const result = events(r.stdout).find((e) => e.type === "result");
    expect(result?.["atomic_groups"]).toEqual(
      expect.arrayContaining([
        { kind: "zfs", sources: [a.mountpoint, b.mountpoint] },
        { kind: "btrfs", sources: [w.data] },
      ]),
    );
    expect(result?.["not_point_in_time"]).toEqual([plain]);
    expect(typeof result?.["snapshot_skew_ms"]).toBe("number");
    const snaps = await w.repo.snapshots();
    expect(snaps).toHaveLength(1);
    expect([...(snaps[0]?.paths ?? [])].sort()).toEqual(
      [w.data, a.mountpoint, b.mountpoint, plain].sort(),
    );
    const ls = await w.repo.restic(["ls", "latest"]);
    for (const f of [
      join(a.mountpoint, "fa"),
      join(b.mountpoint, "fb"),
      join(w.data, "fbtrfs"),
      join(plain, "fplain"),
    ])
      expect(ls).toContain(f);
    expect(await snapbackObjectsIn(pool.pool)).toEqual([]);
    expect(await leftovers(w)).toEqual([]);
    expect((await run("findmnt", ["-rn", "-o", "TARGET"])).stdout).not.toMatch(/\/run\/snapback/);
  });
});
