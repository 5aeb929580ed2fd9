import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { run } from "../src/exec/index.js";
import { spawn } from "node:child_process";
import { CLI, createWorld, leftovers, jsonEvents } from "./fixtures/cli.js";
import { createZfsPool, snapbackObjectsIn } from "./fixtures/zfs.js";

const events = jsonEvents;

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

  test("SIGKILL during the backup: the next run removes the clone and the snapshot", async () => {
    await using pool = await createZfsPool(512);
    await using w = await createWorld();
    const ds = await pool.dataset("big");
    await run("sh", [
      "-c",
      `for i in $(seq 120); do head -c 1048576 /dev/urandom > "${ds.mountpoint}/f$i"; done`,
    ]);
    await w.writeConfig(w.basicConfig([ds.mountpoint]));
    const child = spawn(process.execPath, [CLI, "--config", w.configPath, "--json", "backup"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    await new Promise<void>((resolve) => {
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes('"type":"progress"')) resolve();
      });
    });
    const restic = (await run("pgrep", ["-P", String(child.pid)])).stdout
      .trim()
      .split("\n")
      .map(Number);
    child.kill("SIGKILL");
    for (const pid of restic) process.kill(pid, "SIGKILL");
    await new Promise((r) => child.on("close", r));
    expect((await snapbackObjectsIn(pool.pool)).length).toBeGreaterThan(0);

    const next = await w.cli(["--json", "backup"]);
    expect(next.exitCode).toBe(0);
    expect(next.stdout).toContain('"type":"reclaimed"');
    expect(next.stdout).toMatch(/zfs (clone|snapshot) /);
    expect(await snapbackObjectsIn(pool.pool)).toEqual([]);
    expect((await run("findmnt", ["-rn", "-o", "TARGET"])).stdout).not.toMatch(/\/run\/snapback/);
    expect(await leftovers(w)).toEqual([]);
  });
});
