import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { escapeSourceName } from "../src/engine/replication/naming.js";
import { run, type RunResult } from "../src/exec/index.js";
import { nextSecond, receiveGate } from "./fixtures/handshake.js";
import { jsonBackup, oneRepositoryConfig, snapback, writeConfigFile } from "./fixtures/cli.js";
import { startSshd } from "./fixtures/sshd.js";
import { createZfsPool, type ZfsPool } from "./fixtures/zfs.js";

interface Transfer {
  parent: string | undefined;
  snapshot: string;
  receive: string;
}

interface Backup {
  r: RunResult;
  warnings: string[];
  errors: string[];
  transfers: Transfer[];
}

const snapOf = (name: string | undefined): string | undefined => name?.slice(name.indexOf("@") + 1);

/** `<repo>: zfs send [-i P] S | …receive…`, as the engine logs every transfer with --verbose. */
function transfersOf(stderr: string): Transfer[] {
  const out: Transfer[] = [];
  for (const line of stderr.split("\n")) {
    const m = /^\S+: zfs send (?:-i (\S+) )?(\S+) \| (.*)$/.exec(line);
    if (m?.[2] && m[3])
      out.push({ parent: snapOf(m[1]), snapshot: snapOf(m[2]) ?? "", receive: m[3] });
  }
  return out;
}

/** Two real zfs-fuse pools: the source dataset in one, the replication target in the other. */
interface Rig extends AsyncDisposable {
  src: ZfsPool;
  dst: ZfsPool;
  home: { name: string; mountpoint: string };
  container: string;
  /** The target dataset of `home`. */
  target: string;
  dir: string;
  configPath: string;
  configure(opts?: { repo?: string; plan?: string }): Promise<void>;
  cli(args: string[]): Promise<RunResult>;
  backup(): Promise<Backup>;
  /** Snapshot names (after the @) of the plan on the source dataset, oldest first. */
  sourceSnaps(): Promise<string[]>;
  /** Snapshot names below the container, `dataset@snap`, oldest first. */
  targetSnaps(): Promise<string[]>;
  userrefs(name: string): Promise<string>;
}

async function createRig(sizeMiB = 256): Promise<Rig> {
  const src = await createZfsPool(sizeMiB);
  let dst: ZfsPool | undefined;
  try {
    dst = await createZfsPool(sizeMiB);
  } catch (e) {
    await src[Symbol.asyncDispose]();
    throw e;
  }
  const dir = await mkdtemp(join(tmpdir(), "snapback-test-zrepl-"));
  const home = await src.dataset("home");
  const container = `${dst.pool}/backup`;
  const configPath = join(dir, "snapback.toml");
  const list = async (dataset: string, recursive: boolean): Promise<string[]> => {
    const r = await run(
      "zfs",
      [
        "list",
        "-H",
        "-o",
        "name",
        "-t",
        "snapshot",
        "-s",
        "createtxg",
        ...(recursive ? ["-r"] : ["-d", "1"]),
        dataset,
      ],
      {
        reject: false,
      },
    );
    return r.stdout.split("\n").filter(Boolean);
  };
  const target = dst;
  const rig: Rig = {
    src,
    dst: target,
    home,
    container,
    target: `${container}/${escapeSourceName(home.name)}`,
    dir,
    configPath,
    async configure(opts = {}) {
      const config = oneRepositoryConfig({
        stateDir: join(dir, "state"),
        repo: "remote",
        repoKeys: ['engine = "zfs"', `dataset = "${container}"`],
        sources: [home.mountpoint],
        extraRepo: opts.repo,
        extraPlan: opts.plan,
      });
      await writeConfigFile(configPath, config);
    },
    cli: (args) => snapback(["--config", configPath, ...args]),
    async backup() {
      const b = await jsonBackup(configPath);
      return { ...b, transfers: transfersOf(b.r.stderr) };
    },
    async sourceSnaps() {
      return (await list(home.name, false))
        .map((n) => snapOf(n) ?? "")
        .filter((n) => n.startsWith("snapback-p-"));
    },
    targetSnaps: () => list(container, true),
    async userrefs(name) {
      return (await run("zfs", ["get", "-H", "-o", "value", "userrefs", name])).stdout.trim();
    },
    async [Symbol.asyncDispose]() {
      await rm(dir, { recursive: true, force: true });
      // The flock file of the target lock (never unlinked by snapback: that would race).
      await rm(`/var/lock/snapback-zfs-${escapeSourceName(container)}.lock`, { force: true });
      await target[Symbol.asyncDispose]();
      await src[Symbol.asyncDispose]();
    },
  };
  return rig;
}

async function mountpointOf(dataset: string): Promise<string> {
  return (await run("zfs", ["get", "-H", "-o", "value", "mountpoint", dataset])).stdout.trim();
}

async function same(a: string, b: string): Promise<void> {
  const r = await run("diff", ["-r", "--no-dereference", a, b], { reject: false });
  expect(r.stdout + r.stderr, `diff ${a} ${b}`).toBe("");
  expect(r.exitCode).toBe(0);
}

/**
 * Unmounts and destroys a dataset. zfs-fuse may still call it busy for a moment after the last
 * process that used it is gone (it finishes its own work on the dataset in the daemon, which
 * nothing outside it can observe): "busy" alone is retried, a bounded number of times, on a
 * condition the daemon reports — any other error fails at once.
 */
async function destroyDataset(name: string, ...flags: string[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    await run("zfs", ["unmount", name], { reject: false });
    const r = await run("zfs", ["destroy", ...flags, name], { reject: false });
    if (r.exitCode === 0) return;
    if (!/busy/i.test(r.stderr) || attempt >= 50)
      throw new Error(`zfs destroy ${name}: ${r.stderr}`);
    await new Promise((resolve) => setImmediate(resolve));
    await run("zfs", ["list", "-H", "-o", "name", name], { reject: false });
  }
}

/**
 * The source (unchanged since the backup) against the newest snapshot on the target, read
 * through a fresh clone: zfs-fuse has no .zfs/snapshot, and the FUSE page cache of the
 * received dataset's own mount can still show what it held before an incremental receive.
 */
async function sameAsTarget(rig: Rig): Promise<void> {
  const snaps = (await rig.targetSnaps()).filter((n) => n.startsWith(`${rig.target}@`));
  const newest = snaps.at(-1);
  expect(newest).toBeDefined();
  const clone = `${rig.dst.pool}/verify`;
  const dir = join(rig.dir, "verify");
  await run("zfs", ["clone", "-o", `mountpoint=${dir}`, newest ?? "", clone]);
  try {
    // zfs-fuse mounts a clone as it makes it; OpenZFS needs asking.
    await run("zfs", ["mount", clone], { reject: false });
    await same(rig.home.mountpoint, dir);
    // ZFS snapshots are not in the dataset's tree and snapback's views live outside it: nothing
    // of snapback's is left in the source or sent with it (issue 11), restore points or not.
    for (const tree of [rig.home.mountpoint, dir])
      expect(await readdir(tree), tree).not.toContain(".snapback");
  } finally {
    await destroyDataset(clone);
    await rm(dir, { recursive: true, force: true });
  }
}

async function fill(dir: string, tag: string, n = 20): Promise<void> {
  await mkdir(join(dir, "docs"), { recursive: true });
  for (let i = 0; i < n; i++)
    await writeFile(join(dir, "docs", `f${i}.txt`), `${tag} ${i}\n`.repeat(i + 1));
}

describe("ZFS replication end to end (two real zfs-fuse pools)", () => {
  test("first send full, then -i from the newest shared snapshot; holds; identical content; restore", async () => {
    await using rig = await createRig();
    await fill(rig.home.mountpoint, "one");
    await rig.configure();

    const first = await rig.backup();
    expect(first.errors).toEqual([]);
    expect(first.r.exitCode).toBe(0);
    const [s1] = await rig.sourceSnaps();
    expect(first.transfers).toEqual([
      { parent: undefined, snapshot: s1, receive: `zfs receive ${rig.target}` },
    ]);
    expect(await rig.targetSnaps()).toEqual([`${rig.target}@${s1}`]);
    await sameAsTarget(rig);

    await fill(rig.home.mountpoint, "two", 30);
    const second = await rig.backup();
    expect(second.r.exitCode).toBe(0);
    const [s2] = await rig.sourceSnaps();
    // zfs-fuse has receive -F (rolls back stray changes such as atime) but not -u.
    expect(second.transfers).toEqual([
      { parent: s1, snapshot: s2, receive: `zfs receive -F ${rig.target}` },
    ]);
    expect(await rig.sourceSnaps()).toEqual([s2]);
    expect(await rig.targetSnaps()).toEqual([`${rig.target}@${s1}`, `${rig.target}@${s2}`]);
    await sameAsTarget(rig);
    // Only the snapshot both sides share is held on the target.
    expect(await rig.userrefs(`${rig.target}@${s2}`)).toBe("1");
    expect(await rig.userrefs(`${rig.target}@${s1}`)).toBe("0");
    const held = await run("zfs", ["destroy", `${rig.target}@${s2}`], { reject: false });
    expect(held.exitCode).not.toBe(0);
    // The kept source snapshot's view (a clone on zfs-fuse) went with the run; only it stays.
    const left = await run("zfs", ["list", "-H", "-o", "name", "-t", "all", "-r", rig.src.pool]);
    expect(left.stdout.split("\n").filter((n) => n.includes("snapback-"))).toEqual([
      `${rig.home.name}@${s2}`,
    ]);
    expect((await run("findmnt", ["-rn", "-o", "TARGET"])).stdout).not.toContain(
      "/run/snapback/zfs",
    );

    const snaps = JSON.parse((await rig.cli(["--json", "snapshots"])).stdout) as {
      id: string;
      paths: string[];
    }[];
    expect(snaps.map((s) => s.paths)).toEqual([[rig.home.name], [rig.home.name]]);

    const restored = await rig.cli(["restore", "p", "--target", `${rig.src.pool}/restored`]);
    expect(restored.exitCode, restored.stderr).toBe(0);
    await same(rig.home.mountpoint, await mountpointOf(`${rig.src.pool}/restored`));
    const again = await rig.cli(["restore", "p", "--target", `${rig.src.pool}/restored`]);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toContain("exists already");
    const path = await rig.cli(["restore", "p", "--target", "/tmp/x"]);
    expect(path.exitCode).toBe(2);
    expect(path.stderr).toContain("--target names the dataset to receive into");
  });

  test("vanished snapshots: an older shared parent (rolling the target back), then a full send that keeps the old chain", async () => {
    await using rig = await createRig();
    await fill(rig.home.mountpoint, "a");
    await rig.configure({ plan: "[plans.p.retention]\nlocal_snapshots = 5" });
    for (let i = 0; i < 3; i++) {
      await writeFile(join(rig.home.mountpoint, `run${i}`), `${i}\n`);
      expect((await rig.backup()).r.exitCode).toBe(0);
    }
    const [s1, s2, s3] = await rig.sourceSnaps();

    // Newest gone on the target: -i from the one before.
    await run("zfs", ["release", "snapback", `${rig.target}@${s3}`]);
    await run("zfs", ["destroy", `${rig.target}@${s3}`]);
    const b4 = await rig.backup();
    const s4 = (await rig.sourceSnaps()).at(-1);
    expect(b4.transfers.map((t) => [t.parent, t.snapshot])).toEqual([[s2, s4]]);

    // Newest gone on the source: s2 is the newest shared one, and the target's s4 must go
    // (an incremental stream applies only on top of its parent).
    await run("zfs", ["destroy", `${rig.home.name}@${s4}`]);
    const b5 = await rig.backup();
    const s5 = (await rig.sourceSnaps()).at(-1);
    expect(b5.transfers.map((t) => [t.parent, t.snapshot])).toEqual([[s2, s5]]);
    expect(b5.warnings.join("\n")).toContain(`rolled ${rig.target} back to ${s2}`);
    expect(await rig.targetSnaps()).toEqual([s1, s2, s5].map((s) => `${rig.target}@${s}`));
    await sameAsTarget(rig);

    // Nothing shared any more: full send; the old chain is renamed aside, not destroyed.
    for (const s of await rig.sourceSnaps()) await run("zfs", ["destroy", `${rig.home.name}@${s}`]);
    const b6 = await rig.backup();
    expect(b6.r.exitCode, b6.errors.join("\n")).toBe(0);
    const s6 = (await rig.sourceSnaps()).at(-1);
    expect(b6.transfers.map((t) => [t.parent, t.snapshot])).toEqual([[undefined, s6]]);
    expect(b6.warnings.join("\n")).toMatch(
      /no snapshot of .* exists on both the source and .* any more: sending .* in full; the previous chain was renamed to .*:old-/,
    );
    const aside = `${rig.target}:old-${s5?.replace(/^snapback-p-/, "")}`;
    expect(await rig.targetSnaps()).toEqual([
      ...[s1, s2, s5].map((s) => `${aside}@${s}`),
      `${rig.target}@${s6}`,
    ]);
    await sameAsTarget(rig);
    // Listing and retention see the chain renamed aside as the same source.
    const snaps = JSON.parse((await rig.cli(["--json", "snapshots"])).stdout) as {
      paths: string[];
    }[];
    expect(snaps).toHaveLength(4);
    expect(new Set(snaps.flatMap((s) => s.paths))).toEqual(new Set([rig.home.name]));
  });

  test("interrupted transfers: a SIGKILLed run, and a dataset a first transfer left without a snapshot", async () => {
    await using rig = await createRig();
    // More than the MiB a gated receive gets: the rest of the stream waits behind the gate.
    await writeFile(join(rig.home.mountpoint, "f"), randomBytes(8 * 1024 * 1024));
    await rig.configure();

    {
      await using gate = await receiveGate("zfs");
      let pid = 0;
      const killed = snapback(["--config", rig.configPath, "backup"], {
        env: { PATH: gate.path },
        onSpawn: (c) => (pid = c.pid ?? 0),
      });
      // The receive has its first MiB and is held: certainly under way when it is killed.
      await gate.held();
      process.kill(-pid, "SIGKILL");
      await run("pkill", ["-KILL", "-f", `zfs receive .*${rig.target}`], { reject: false });
      await run("pkill", ["-KILL", "-f", `zfs send .*${rig.home.name}@`], { reject: false });
      expect((await killed).signal).toBe("SIGKILL");
    }

    // zfs-fuse finishes or discards a transfer once its client is gone: wait for the killed
    // processes to be gone (pidwait returns at once when none is left).
    await run("pidwait", ["-f", `zfs receive .*${rig.target}`], { reject: false });
    await run("pidwait", ["-f", `zfs send .*${rig.home.name}@`], { reject: false });
    const next = await rig.backup();
    expect(next.r.exitCode, next.errors.join("\n")).toBe(0);
    const [s] = await rig.sourceSnaps();
    expect(await rig.sourceSnaps()).toEqual([s]);
    expect((await rig.targetSnaps()).at(-1)).toBe(`${rig.target}@${s}`);
    await sameAsTarget(rig);

    // What an interrupted first receive leaves elsewhere (OpenZFS without -s): a dataset without a snapshot.
    for (const snap of await rig.targetSnaps())
      await run("zfs", ["release", "snapback", snap], { reject: false });
    await destroyDataset(rig.target, "-r");
    await run("zfs", ["create", rig.target]);
    await writeFile(join(rig.home.mountpoint, "after"), "x\n");
    const clean = await rig.backup();
    expect(clean.r.exitCode, clean.errors.join("\n")).toBe(0);
    expect(clean.warnings.join("\n")).toContain(
      `removed ${rig.target} on this machine: an interrupted first transfer left it without a snapshot`,
    );
    expect(clean.transfers[0]?.parent).toBeUndefined();
    await sameAsTarget(rig);
  });

  test("retention on both sides keeps exactly the expected snapshots and never the last common one", async () => {
    await using rig = await createRig();
    await fill(rig.home.mountpoint, "r");
    await rig.configure({ plan: "[plans.p.retention]\nkeep_last = 2\nlocal_snapshots = 2" });
    const taken: string[] = [];
    for (let i = 0; i < 4; i++) {
      await nextSecond();
      await writeFile(join(rig.home.mountpoint, `n${i}`), `${i}\n`);
      const b = await rig.backup();
      expect(b.r.exitCode, b.errors.join("\n")).toBe(0);
      taken.push(b.transfers[0]?.snapshot ?? "");
    }
    const [, , t3, t4] = taken;
    expect({ target: await rig.targetSnaps(), source: await rig.sourceSnaps() }).toEqual({
      target: [t3, t4].map((s) => `${rig.target}@${s}`),
      source: [t3, t4],
    });

    // A newer snapshot on the target that the source lost (a run killed after its receive).
    await nextSecond();
    const stray = `snapback-p-${new Date()
      .toISOString()
      .replace(/[-:]/g, "")
      .replace(/\.\d+Z$/, "Z")}-ffff`;
    await run("zfs", ["snapshot", `${rig.home.name}@${stray}`]);
    await run("sh", [
      "-c",
      'zfs send -i "$1" "$2" | zfs receive -F "$3"',
      "sh",
      `${rig.home.name}@${t4}`,
      `${rig.home.name}@${stray}`,
      rig.target,
    ]);
    await run("zfs", ["destroy", `${rig.home.name}@${stray}`]);
    await rig.configure({ plan: "[plans.p.retention]\nkeep_last = 2", repo: "keep_last = 1" });
    const pruned = await rig.cli(["--json", "prune", "p"]);
    expect(pruned.exitCode, pruned.stderr).toBe(0);
    // keep_last = 1 alone would keep only the stray one: the last common one (t4) stays.
    expect(await rig.targetSnaps()).toEqual([t4, stray].map((s) => `${rig.target}@${s}`));

    await nextSecond();
    const b6 = await rig.backup();
    expect(b6.r.exitCode, b6.errors.join("\n")).toBe(0);
    const t6 = b6.transfers[0]?.snapshot;
    expect(b6.transfers[0]?.parent).toBe(t4);
    expect(await rig.targetSnaps()).toEqual([`${rig.target}@${t6}`]);
    expect(await rig.sourceSnaps()).toEqual([t6]);
  });

  test("over ssh to a real sshd", async () => {
    await using sshd = await startSshd();
    await using rig = await createRig();
    await fill(rig.home.mountpoint, "ssh");
    const options = sshd.clientOptions;
    await rig.configure({
      repo: `ssh = "root@127.0.0.1"\nssh_options = ${JSON.stringify(options)}`,
    });
    const first = await rig.backup();
    expect(first.r.exitCode, first.errors.join("\n")).toBe(0);
    expect(first.transfers[0]?.receive).toMatch(
      /^ssh -o BatchMode=yes .* -- root@127\.0\.0\.1 "zfs receive .*"$/,
    );
    await writeFile(join(rig.home.mountpoint, "more"), "more\n");
    const second = await rig.backup();
    expect(second.r.exitCode).toBe(0);
    expect(second.transfers[0]?.parent).toBe(first.transfers[0]?.snapshot);
    await sameAsTarget(rig);
    const restored = await rig.cli(["restore", "p", "--target", `${rig.src.pool}/viassh`]);
    expect(restored.exitCode, restored.stderr).toBe(0);
    await same(rig.home.mountpoint, await mountpointOf(`${rig.src.pool}/viassh`));
  });
});
