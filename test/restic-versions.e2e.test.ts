import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { createWorld, leftovers, type World } from "./fixtures/cli.js";
import { createZfsPool, snapbackObjectsIn } from "./fixtures/zfs.js";
import { run } from "../src/exec/index.js";
import { createTestRepo, TEST_PASSWORD, type ResticSnapshotJson } from "./fixtures/restic.js";

/** Debian 13's restic 0.18, unpacked by `make deps`; Debian 12's 0.14 is the system's. */
const RESTIC_018 = resolve(".cache/debian-trixie/root/usr/bin/restic");
const RESTIC_014 = "/usr/bin/restic";

interface ResultJson {
  type: "result";
  status: string;
  warnings: string[];
  engines?: Record<string, { engine: string; version: string; features: string[] }>;
}

/**
 * Two repositories of one plan, each with its own `restic_binary`: both versions run side by
 * side, whatever restic the test run put first on PATH.
 */
describe("restic_binary and the two restic versions", () => {
  test("doctor and the run's result name each repository's version and features", async () => {
    await using w = await createWorld();
    await using r18 = await createTestRepo();
    await writeFile(join(w.data, "a"), "a");
    // "r" takes the global default, "r18" names its own.
    await w.writeConfig(
      `restic_binary = "${RESTIC_014}"\n` +
        w
          .basicConfig(
            [w.data],
            'repositories = ["r", "r18"]',
            `[repositories.r18]\nengine = "restic"\nurl = "${r18.url}"\npassword_file = "${r18.passwordFile}"\nrestic_binary = "${RESTIC_018}"`,
          )
          .replace('repositories = ["r"]\n', ""),
    );
    const doctor = await w.cli(["--json", "doctor"]);
    const doc = JSON.parse(doctor.stdout) as {
      checks: { name: string; repository?: string; version?: string; features?: string[] }[];
    };
    const byRepo = (name: string) => doc.checks.find((c) => c.repository === name);
    expect(byRepo("r")).toMatchObject({ version: "0.14.0", features: [] });
    expect(byRepo("r18")).toMatchObject({
      version: "0.18.0",
      features: ["device-id-for-hardlinks"],
    });
    // `snapback restic` runs each repository's own binary too.
    const wrapped = async (repo: string) =>
      (await w.cli(["restic", "p", "--repository", repo, "--", "version"])).stdout;
    expect(await wrapped("r")).toMatch(/^restic 0\.14\.0 /);
    expect(await wrapped("r18")).toMatch(/^restic 0\.18\.0 /);

    const backup = await w.cli(["--json", "backup"]);
    expect(backup.exitCode, backup.stderr).toBe(0);
    const result = backup.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string })
      .find((e): e is ResultJson => e.type === "result");
    expect(result?.engines).toEqual({
      r: { engine: "restic", version: "0.14.0", features: [] },
      r18: { engine: "restic", version: "0.18.0", features: ["device-id-for-hardlinks"] },
    });
    // Read by 0.18 itself: 0.14 does not know the field 0.18 records.
    const snaps = JSON.parse(
      (
        await run(RESTIC_018, ["-r", r18.url, "--no-cache", "snapshots", "--json"], {
          env: { RESTIC_PASSWORD: TEST_PASSWORD },
        })
      ).stdout,
    ) as ResticSnapshotJson[];
    expect(snaps.map((s) => s.program_version)).toEqual(["restic 0.18.0"]);
    expect(await leftovers(w)).toEqual([]);
  });

  test("a restic_binary that is not restic is named with its key", async () => {
    await using w = await createWorld();
    await w.writeConfig(w.basicConfig([w.data], "", 'restic_binary = "/nonexistent/restic"'));
    const r = await w.cli(["backup"]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("restic not found at /nonexistent/restic");
    expect(r.stderr).not.toMatch(/\n\s+at /);
    await w.writeConfig(w.basicConfig([w.data], "", 'restic_binary = "bin/restic"'));
    const bad = await w.cli(["backup"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(
      /repositories\.r\.restic_binary.*bin\/restic|bin\/restic.*restic_binary/,
    );
    expect(await leftovers(w)).toEqual([]);
  });

  test("zero churn: an unchanged incremental of a btrfs snapshot with a new device id", async () => {
    await using w = await createWorld();
    // The previous snapshot stays alive, so the next one gets a new device id.
    await zeroChurn(w, w.data, "[plans.p.retention]\nkeep_last = 10\nlocal_snapshots = 2");
  });

  test("restic 0.14: a new device id is churn, named with its numbers even when files changed; a kept one is not", async () => {
    await using w = await createWorld();
    for (let d = 0; d < 20; d++) {
      await mkdir(join(w.data, `d${d}`, "sub"), { recursive: true });
      await writeFile(join(w.data, `d${d}`, "sub", "x"), `x ${d}`);
    }
    const config = (local: number) =>
      w.basicConfig(
        [w.data],
        `[plans.p.retention]\nkeep_last = 100\nlocal_snapshots = ${local}`,
        `restic_binary = "${RESTIC_014}"`,
      );
    // Kept after its run, the first snapshot holds its device number: the next gets another.
    await w.writeConfig(config(1));
    const first = await backupJson(w);
    expect(first.result.warnings.filter((m) => m.includes("device id"))).toEqual([]);
    await writeFile(join(w.data, "d3", "sub", "x"), "changed");
    const second = await backupJson(w);
    expect(second.summary.files_changed).toBe(1);
    const [d1, d2] = await sourceDeviceIds(w, [
      first.summary.snapshot_id,
      second.summary.snapshot_id,
    ]);
    expect(d2).not.toBe(d1);
    const churn = second.result.warnings.filter((m) => m.includes("device id"));
    expect(churn).toEqual([
      `r: the snapshot got a new device id (${w.data} (${d1} → ${d2})), so restic stored ` +
        `${second.summary.dirs_changed} changed directories again (${second.summary.tree_blobs} ` +
        `new tree blobs; the ${second.summary.data_added} bytes added include the changed ` +
        `files' data, which restic does not report apart): restic 0.14.0 lacks ` +
        `device-id-for-hardlinks: every incremental of a snapshot rewrites the tree data of ` +
        `every directory below the source; upgrade to restic >= 0.17 (restic_binary = ` +
        `"/usr/local/bin/restic")`,
    ]);
    // Every directory from the root down to the source, and each one below it.
    expect(second.summary.dirs_changed).toBeGreaterThan(40);

    // Without kept snapshots, a deleted snapshot's number is handed to the next one unless
    // something else on the machine takes it in between: each run's warning must match what
    // restic recorded, and one of a few runs must have kept its number.
    await w.writeConfig(config(0));
    let previous = second.summary.snapshot_id;
    let kept = 0;
    for (let i = 0; i < 5 && kept === 0; i++) {
      const run = await backupJson(w);
      const [before, after] = await sourceDeviceIds(w, [previous, run.summary.snapshot_id]);
      const warned = run.result.warnings.filter((m) => m.includes("device id"));
      if (before === after) {
        kept++;
        expect(warned).toEqual([]);
      } else {
        expect(warned).toHaveLength(1);
        expect(warned[0]).toContain(`(${w.data} (${before} → ${after})), so restic stored`);
        expect(warned[0]).toContain(`(${run.summary.data_added} bytes of tree data added)`);
      }
      previous = run.summary.snapshot_id;
    }
    expect(kept).toBe(1);
    expect(await leftovers(w)).toEqual([]);
  });

  test("zero churn: an unchanged incremental of a ZFS snapshot (a new clone, a new device id)", async () => {
    await using pool = await createZfsPool(256);
    await using w = await createWorld();
    const home = await pool.dataset("home");
    await zeroChurn(w, home.mountpoint, "");
    expect(await snapbackObjectsIn(pool.pool)).toEqual([]);
    expect(await leftovers(w)).toEqual([]);
  });
});

/**
 * Two backups of an unchanged `source` into a 0.14 and a 0.18 repository of one plan. 0.14
 * stores every directory below the source again (the snapshot's device id is new) and the
 * result says so; 0.18 with device-id-for-hardlinks changes nothing below the source.
 */
async function zeroChurn(w: World, source: string, extraPlan: string): Promise<void> {
  await using r18 = await createTestRepo();
  for (let d = 0; d < 20; d++) {
    await writeFile(join(source, `f${d}`), `file ${d}`);
    await mkdir(join(source, `d${d}`, "sub"), { recursive: true });
    await writeFile(join(source, `d${d}`, "sub", "x"), `x ${d}`);
  }
  await w.writeConfig(
    w
      .basicConfig(
        [source],
        `repositories = ["r", "r18"]\n${extraPlan}`,
        `restic_binary = "${RESTIC_014}"\n[repositories.r18]\nengine = "restic"\nurl = "${r18.url}"\npassword_file = "${r18.passwordFile}"\nrestic_binary = "${RESTIC_018}"`,
      )
      .replace('repositories = ["r"]\n', ""),
  );
  const first = await w.cli(["--json", "backup"]);
  expect(first.exitCode, first.stderr).toBe(0);
  // The first run's snapshot mount is gone, and the kernel hands out the lowest free anonymous
  // device number: the next mount could get the same one. A tmpfs held meanwhile takes it.
  await using _held = await heldTmpfs();
  const second = await w.cli(["--json", "backup"]);
  expect(second.exitCode, second.stderr).toBe(0);
  const events = second.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const summary = (repo: string) =>
    events.find((e) => e["type"] === "summary" && e["repository"] === repo) as
      { dirs_changed: number; data_added: number; files_changed: number } | undefined;
  const result = events.find((e) => e["type"] === "result") as ResultJson | undefined;

  expect(summary("r")?.files_changed).toBe(0);
  expect(summary("r")?.dirs_changed).toBeGreaterThan(20);
  // The first run's device id is remembered: the warning names the change.
  expect(
    result?.warnings.some((m) =>
      /^r: the snapshot got a new device id \(.*\), so restic stored \d+ changed directories again .*upgrade to restic >= 0\.17/.test(
        m,
      ),
    ),
  ).toBe(true);

  const ids = (await r18.snapshots()).map((s) => s.id);
  expect(ids).toHaveLength(2);
  const diff = await r18.restic(["diff", ids[0] ?? "", ids[1] ?? ""]);
  const changed = diff
    .split("\n")
    .filter((l) => /^[M+-U]\s+\//.test(l))
    .map((l) => l.replace(/^\S+\s+/, ""));
  expect(changed.filter((p) => p.startsWith(`${source}/`))).toEqual([]);
  expect(summary("r18")?.files_changed).toBe(0);
  expect(result?.warnings.some((m) => m.startsWith("r18:"))).toBe(false);
}

/** A tmpfs mounted until disposed: it occupies one anonymous device number. */
async function heldTmpfs(): Promise<AsyncDisposable> {
  const dir = await mkdtemp(join(tmpdir(), "snapback-test-devid-"));
  try {
    await run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    async [Symbol.asyncDispose]() {
      await run("umount", [dir]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

interface BackupJson {
  summary: {
    snapshot_id: string;
    files_changed: number;
    dirs_changed: number;
    tree_blobs: number;
    data_added: number;
  };
  result: ResultJson;
}

async function backupJson(w: World): Promise<BackupJson> {
  const r = await w.cli(["--json", "backup"]);
  expect(r.exitCode, r.stderr).toBe(0);
  const events = r.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const summary = events.find((e) => e["type"] === "summary") as BackupJson["summary"] | undefined;
  const result = events.find((e) => e["type"] === "result") as ResultJson | undefined;
  if (summary === undefined || result === undefined)
    throw new Error(`no summary/result: ${r.stdout}`);
  return { summary, result };
}

/**
 * The device id restic 0.14 recorded for the source directory in each snapshot: read from the
 * snapshot's trees, walking from the root down the source's path.
 */
async function sourceDeviceIds(w: World, snapshots: string[]): Promise<number[]> {
  const out: number[] = [];
  for (const id of snapshots) {
    const snap = JSON.parse(await w.repo.restic(["cat", "snapshot", id])) as { tree: string };
    let tree = snap.tree;
    let device: number | undefined;
    for (const name of w.data.split("/").filter(Boolean)) {
      const nodes = (
        JSON.parse(await w.repo.restic(["cat", "blob", tree])) as {
          nodes: { name: string; subtree?: string; device_id?: number }[];
        }
      ).nodes;
      const node = nodes.find((n) => n.name === name);
      if (node?.subtree === undefined) throw new Error(`${name} not in snapshot ${id}`);
      tree = node.subtree;
      device = node.device_id;
    }
    if (device === undefined) throw new Error(`no device id for ${w.data} in ${id}`);
    out.push(device);
  }
  return out;
}
