import "disposablestack/auto";
import { randomBytes } from "node:crypto";
import {
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
  stat,
  symlink,
  unlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import { describe, expect, test } from "vitest";
import { BtrfsTargetEngine } from "../src/engine/replication/btrfs-target.js";
import {
  listSnapbackSubvolumes,
  type SubvolumeInfo,
} from "../src/engine/replication/btrfs-show.js";
import { escapeSourceName } from "../src/engine/replication/naming.js";
import { localHost } from "../src/engine/replication/ssh.js";
import { acquireTargetLock } from "../src/engine/replication/target-lock.js";
import { run, type RunResult } from "../src/exec/index.js";
import { newRunId } from "../src/core/runid.js";
import { createLoopBtrfs, type LoopBtrfs } from "./fixtures/btrfs.js";
import {
  jsonBackup,
  oneRepositoryConfig,
  snapback,
  writeConfigFile,
  type JsonEvent,
} from "./fixtures/cli.js";
import { nextSecond, receiveGate, type ReceiveGate } from "./fixtures/handshake.js";
import { startSshd } from "./fixtures/sshd.js";

interface Transfer {
  repo: string;
  parent: string | undefined;
  snapshot: string;
  receive: string;
}

interface Backup {
  r: RunResult;
  events: JsonEvent[];
  warnings: string[];
  /** Messages of the run's error events. */
  errors: string[];
  transfers: Transfer[];
}

/** `<repo>: btrfs send [-p P] S | …receive…`, as the engine logs every transfer with --verbose. */
function transfersOf(stderr: string): Transfer[] {
  const out: Transfer[] = [];
  for (const line of stderr.split("\n")) {
    const m = /^(\S+): btrfs send (?:-p (\S+) )?(\S+) \| (.*)$/.exec(line);
    if (m?.[1] && m[3] && m[4])
      out.push({ repo: m[1], parent: m[2], snapshot: basename(m[3]), receive: m[4] });
  }
  return out.map((t) => ({
    ...t,
    parent: t.parent === undefined ? undefined : basename(t.parent),
  }));
}

/** Two real btrfs filesystems: `data` on the source one, the replication target on the other. */
interface Rig extends AsyncDisposable {
  src: LoopBtrfs;
  dst: LoopBtrfs;
  data: string;
  target: string;
  dir: string;
  stateDir: string;
  configPath: string;
  /** `path`: the repository's path instead of `target`. */
  configure(opts?: {
    repo?: string;
    plan?: string;
    sources?: string[];
    path?: string;
  }): Promise<void>;
  cli(args: string[]): Promise<RunResult>;
  backup(): Promise<Backup>;
  /** Names of the plan's snapshots kept on the source. */
  sourceSnaps(): Promise<string[]>;
  /** Every snapback subvolume in the target directory of `data`. */
  targetSnaps(): Promise<SubvolumeInfo[]>;
  targetDir: string;
}

async function createRig(sizeMiB = 512): Promise<Rig> {
  // Each step's resource is on the stack as soon as it exists, so a later step that fails
  // releases the loop devices and mounts made before it.
  await using stack = new AsyncDisposableStack();
  const src = stack.use(await createLoopBtrfs(sizeMiB, "snapback-test-src"));
  const dst = stack.use(await createLoopBtrfs(sizeMiB, "snapback-test-dst"));
  const dir = await mkdtemp(join(tmpdir(), "snapback-test-repl-"));
  stack.defer(() => rm(dir, { recursive: true, force: true }));
  const data = await src.subvolume("data");
  const target = join(dst.mountpoint, "backup");
  await mkdir(target);
  const stateDir = join(dir, "state");
  const configPath = join(dir, "snapback.toml");
  const targetDir = join(target, escapeSourceName(data));
  const owned = stack.move();
  const rig: Rig = {
    src,
    dst,
    data,
    target,
    dir,
    stateDir,
    configPath,
    targetDir,
    async configure(opts = {}) {
      await writeConfigFile(
        configPath,
        oneRepositoryConfig({
          stateDir,
          repo: "usb",
          repoKeys: ['engine = "btrfs"', `path = "${opts.path ?? target}"`],
          sources: opts.sources ?? [data],
          extraRepo: opts.repo,
          extraPlan: opts.plan,
        }),
      );
    },
    cli: (args) => snapback(["--config", configPath, ...args]),
    async backup() {
      const b = await jsonBackup(configPath);
      return { ...b, transfers: transfersOf(b.r.stderr) };
    },
    async sourceSnaps() {
      const names = await readdir(join(data, ".snapback")).catch(() => [] as string[]);
      return names.filter((n) => n.startsWith("snapback@p@")).sort();
    },
    targetSnaps: () => listSnapbackSubvolumes(localHost, targetDir),
    [Symbol.asyncDispose]: owned.disposeAsync.bind(owned),
  };
  return rig;
}

const names = (s: readonly SubvolumeInfo[]): string[] => s.map((x) => x.name).sort();

/**
 * The two trees hold the same. Nothing of snapback's own is left out: what is sent holds none of
 * its snapshots (issue 11). `stubs` are a user's nested subvolumes, which a snapshot shows as
 * empty directories and btrfs send leaves out.
 */
async function same(a: string, b: string, stubs: string[] = []): Promise<void> {
  const r = await run(
    "diff",
    ["-r", "--no-dereference", ...stubs.flatMap((x) => ["-x", x]), a, b],
    { reject: false },
  );
  expect(r.stdout + r.stderr, `diff ${a} ${b}`).toBe("");
  expect(r.exitCode).toBe(0);
}

async function fill(dir: string, tag: string, n = 30): Promise<void> {
  await mkdir(join(dir, "docs", "deep"), { recursive: true });
  for (let i = 0; i < n; i++)
    await writeFile(join(dir, "docs", `f${i}.txt`), `${tag} ${i}\n`.repeat(i + 1));
  await writeFile(join(dir, "docs", "deep", "blob.bin"), randomBytes(256 * 1024));
  await symlink("docs/f1.txt", join(dir, `link-${tag}`)).catch(() => undefined);
}

/** sampleFiles and restoreFiles of a run against its source snapshot. */
async function spotCheck(
  engine: BtrfsTargetEngine,
  runId: string,
  snapshot: string,
  source: string,
  out: string,
): Promise<void> {
  const signal = new AbortController().signal;
  const all = (
    await run("find", [
      snapshot,
      "-path",
      `${snapshot}/.snapback`,
      "-prune",
      "-o",
      "-type",
      "f",
      "-print",
    ])
  ).stdout
    .split("\n")
    .filter(Boolean);
  const { files, total } = await engine.sampleFiles(runId, 5, signal);
  expect(total).toBe(all.length);
  expect(files).toHaveLength(5);
  for (const f of files) {
    const st = await stat(join(snapshot, relative(source, f.path)), { bigint: true });
    expect(f.size).toBe(Number(st.size));
    expect(f.mtimeNs).toBe(st.mtimeNs);
  }
  const r = await engine.restoreFiles({
    snapshotId: runId,
    target: out,
    paths: files.map((f) => f.path),
    signal,
  });
  expect(r.errors).toEqual([]);
  for (const f of files) {
    const original = join(snapshot, relative(source, f.path));
    expect(await readFile(join(out, f.path))).toEqual(await readFile(original));
    const [a, b] = await Promise.all([
      stat(join(out, f.path), { bigint: true }),
      stat(original, { bigint: true }),
    ]);
    expect([a.mtimeNs, a.mode, a.uid]).toEqual([b.mtimeNs, b.mode, b.uid]);
  }
  const missing = await engine.restoreFiles({
    snapshotId: runId,
    target: out,
    paths: ["/nowhere/x"],
    signal,
  });
  expect(missing.errors).toEqual([`/nowhere/x: not in snapshot ${runId}`]);
  await rm(out, { recursive: true, force: true });
}

async function mountsUnder(path: string): Promise<string[]> {
  const r = await run("findmnt", ["-rn", "-o", "TARGET"], { reject: false });
  return r.stdout.split("\n").filter((m) => m.startsWith(path) && m !== path);
}

describe("btrfs replication end to end (two real btrfs filesystems)", () => {
  test("first send full, then incremental from the last one; content identical; restore reproduces it", async () => {
    await using rig = await createRig();
    await fill(rig.data, "one");
    await rig.configure();

    const first = await rig.backup();
    expect(first.r.stderr).not.toMatch(/^error/m);
    expect(first.r.exitCode).toBe(0);
    expect(first.transfers).toHaveLength(1);
    expect(first.transfers[0]?.parent).toBeUndefined();
    expect(first.transfers[0]?.receive).toBe(`btrfs receive ${rig.targetDir}`);
    const [s1] = await rig.sourceSnaps();
    expect(s1).toBeDefined();
    expect(names(await rig.targetSnaps())).toEqual([s1]);
    await same(join(rig.data, ".snapback", s1 ?? ""), join(rig.targetDir, s1 ?? ""));
    // The summary says what was sent (a replication target counts no files).
    const sent = (b: Backup) => b.events.find((e) => e.type === "summary")?.["replicated"];
    expect(sent(first)).toEqual([
      {
        source: rig.data,
        received: join(rig.targetDir, s1 ?? ""),
        parent: null,
        duration_s: expect.any(Number) as number,
      },
    ]);
    const onTarget = (await rig.targetSnaps())[0];
    expect(onTarget?.readonly).toBe(true);
    expect(onTarget?.receivedUuid).toBeDefined();

    await fill(rig.data, "two", 40);
    await unlink(join(rig.data, "docs", "f3.txt"));
    const second = await rig.backup();
    expect(second.r.exitCode).toBe(0);
    const [s2] = await rig.sourceSnaps();
    expect(second.transfers.map((t) => [t.parent, t.snapshot])).toEqual([[s1, s2]]);
    expect(sent(second)).toEqual([
      {
        source: rig.data,
        received: join(rig.targetDir, s2 ?? ""),
        parent: join(rig.data, ".snapback", s1 ?? ""),
        duration_s: expect.any(Number) as number,
      },
    ]);
    // The replaced parent left the source; the target keeps both (no retention configured).
    expect(await rig.sourceSnaps()).toEqual([s2]);
    expect(names(await rig.targetSnaps())).toEqual([s1, s2].sort());
    await same(join(rig.data, ".snapback", s2 ?? ""), join(rig.targetDir, s2 ?? ""));

    await writeFile(join(rig.data, "third"), "3\n");
    const third = await rig.backup();
    const [s3] = await rig.sourceSnaps();
    expect(third.transfers.map((t) => [t.parent, t.snapshot])).toEqual([[s2, s3]]);

    const snaps = JSON.parse((await rig.cli(["--json", "snapshots"])).stdout) as {
      id: string;
      paths: string[];
      repository: string;
    }[];
    expect(snaps).toHaveLength(3);
    expect(snaps.every((s) => s.repository === "usb" && s.paths.join() === rig.data)).toBe(true);
    // Ids are the run ids in the snapshot names (two runs may share a second: no order assumed).
    const idOf = (name: string | undefined): string =>
      snaps.find((x) => name?.includes(`@${x.id}@`))?.id ?? "none";
    expect(new Set([s1, s2, s3].map(idOf)).size).toBe(3);

    // Restore the latest as a read-only subvolume plus a writable copy, on the source filesystem.
    const restoreDir = join(rig.src.mountpoint, "restored");
    const restored = await rig.cli(["restore", "p", "--target", restoreDir, "--writable"]);
    expect(restored.stderr).toBe("");
    expect(restored.exitCode).toBe(0);
    await same(join(rig.data, ".snapback", s3 ?? ""), join(restoreDir, s3 ?? ""));
    const copy = join(restoreDir, escapeSourceName(rig.data));
    await same(join(rig.data, ".snapback", s3 ?? ""), copy);
    await writeFile(join(copy, "writable"), "yes");
    const ro = await run("touch", [join(restoreDir, s3 ?? "", "x")], { reject: false });
    expect(ro.exitCode).not.toBe(0);
    // An older one by id; an existing name is refused without --overwrite.
    const again = await rig.cli(["restore", "p", "--target", restoreDir, "--snapshot", idOf(s1)]);
    expect(again.exitCode).toBe(0);
    await same(join(rig.targetDir, s1 ?? ""), join(restoreDir, s1 ?? ""));
    const refused = await rig.cli(["restore", "p", "--target", restoreDir]);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain("exists already");
    for (const n of await readdir(restoreDir))
      await run("btrfs", ["subvolume", "delete", join(restoreDir, n)]);

    // Single files (spot checks): sampled with their recorded metadata, restored at original paths.
    await spotCheck(
      new BtrfsTargetEngine("usb", { engine: "btrfs", path: rig.target }, rig.stateDir),
      idOf(s3),
      join(rig.data, ".snapback", s3 ?? ""),
      rig.data,
      join(rig.dir, "spot"),
    );

    expect(await mountsUnder(rig.src.mountpoint)).toEqual([]);
    expect(await readdir(join(rig.stateDir, "journal")).catch(() => [])).toEqual([]);
  });

  test("what is sent holds none of snapback's own snapshots; the user's tree is complete", async () => {
    await using rig = await createRig();
    await fill(rig.data, "own");
    // A user's nested subvolume (replicated as a snapshot of its own) and a user's directory
    // whose name only resembles ours: both are the user's and stay.
    const vm = await rig.src.subvolume("data/vm");
    await writeFile(join(vm, "disk.img"), "vm\n");
    await mkdir(join(rig.data, ".snapback-notes"));
    await writeFile(join(rig.data, ".snapback-notes", "n"), "note\n");
    // Restore points stay in .snapback next to the replication parent.
    await rig.configure({ plan: "[plans.p.retention]\nlocal_snapshots = 2" });
    const made: string[] = [];
    // Local retention and the source parents go by creation order (the subvolume id and the
    // generation), so runs within one second are told apart.
    for (let i = 0; i < 4; i++) {
      await writeFile(join(rig.data, `gen${i}`), `${i}\n`);
      const b = await rig.backup();
      expect(b.r.exitCode, b.r.stderr).toBe(0);
      expect(b.warnings).toEqual([]);
      const own = b.transfers.filter((t) => t.snapshot.endsWith("@1"));
      expect(own).toHaveLength(1);
      // Full first, then incremental from the previous run's: the parent lookup is unaffected.
      expect(own[0]?.parent).toBe(made.at(-1));
      made.push(own[0]?.snapshot ?? "");
    }
    const [s1, s2, s3, s4] = made;
    expect((await rig.sourceSnaps()).filter((n) => n.endsWith("@1"))).toEqual([s3, s4].sort());

    // Each run's snapshot had a .snapback inside (empty at the first, then with the stubs of
    // the restore points and the parent): none of it arrived; all of the user's did.
    const userTree = (runs: number): string[] =>
      [
        ".snapback-notes",
        "docs",
        "link-own",
        ...made.slice(0, runs).map((_, i) => `gen${i}`),
      ].sort();
    for (const [i, name] of made.entries()) {
      const received = join(rig.targetDir, name);
      expect((await readdir(received)).sort(), received).toEqual(userTree(i + 1));
    }
    const onTarget = await rig.targetSnaps();
    expect(names(onTarget)).toEqual([s1, s2, s3, s4].sort());
    expect(onTarget.every((t) => t.readonly && t.receivedUuid !== undefined)).toBe(true);
    // The kept snapshots on the source are clean too, read-only, and still show the user's
    // nested subvolume as btrfs does (an empty stub, which send leaves out).
    for (const [i, name] of [
      [3, s3],
      [4, s4],
    ] as const) {
      const kept = join(rig.data, ".snapback", name ?? "");
      expect((await readdir(kept)).sort()).toEqual([...userTree(i), "vm"].sort());
      expect((await stat(join(kept, "vm"))).ino, "the user's nested subvolume stub").toBe(2);
      expect((await run("btrfs", ["property", "get", "-ts", kept, "ro"])).stdout.trim()).toBe(
        "ro=true",
      );
      await same(kept, join(rig.targetDir, name ?? ""), ["vm"]);
    }
    // The nested subvolume's own snapshots arrive whole, in their own target directory.
    const vmDir = join(rig.target, escapeSourceName(vm));
    const vmSnaps = names(await listSnapbackSubvolumes(localHost, vmDir));
    expect(vmSnaps).toHaveLength(4);
    for (const n of vmSnaps) expect(await readdir(join(vmDir, n))).toEqual(["disk.img"]);
  });

  test("the newest common parent after snapshots vanish on either side; a full send with a warning when none is left", async () => {
    await using rig = await createRig();
    await fill(rig.data, "a");
    // Several snapshots stay on the source, so older common parents exist.
    await rig.configure({ plan: "[plans.p.retention]\nlocal_snapshots = 5" });
    // Names in the order the runs made them (several runs can share a second).
    const sent = (b: Backup): string | undefined => b.transfers[0]?.snapshot;
    const made: (string | undefined)[] = [];
    for (let i = 0; i < 3; i++) {
      await writeFile(join(rig.data, `run${i}`), `${i}\n`);
      const b = await rig.backup();
      expect(b.r.exitCode).toBe(0);
      made.push(sent(b));
    }
    const [s1, s2, s3] = made;
    expect(names(await rig.targetSnaps())).toEqual([s1, s2, s3].sort());
    expect(await rig.sourceSnaps()).toEqual([s1, s2, s3].sort());

    // The newest is deleted on the target: the next send starts from the one before.
    await run("btrfs", ["subvolume", "delete", join(rig.targetDir, s3 ?? "")]);
    const b4 = await rig.backup();
    const s4 = sent(b4);
    expect(b4.transfers.map((t) => t.parent)).toEqual([s2]);
    await same(join(rig.data, ".snapback", s4 ?? ""), join(rig.targetDir, s4 ?? ""));

    // The newest is deleted on the source: the target's s4 no longer counts, s2 does.
    await run("btrfs", ["subvolume", "delete", join(rig.data, ".snapback", s4 ?? "")]);
    const b5 = await rig.backup();
    const s5 = sent(b5);
    expect(b5.transfers.map((t) => t.parent)).toEqual([s2]);
    expect(b5.warnings).toEqual([]);

    // Nothing shared any more (the target's copies have no counterpart): a full send, warned.
    for (const n of await rig.sourceSnaps())
      await run("btrfs", ["subvolume", "delete", join(rig.data, ".snapback", n)]);
    const b6 = await rig.backup();
    expect(b6.r.exitCode).toBe(0);
    const s6 = sent(b6);
    expect(b6.transfers.map((t) => t.parent)).toEqual([undefined]);
    expect(await rig.sourceSnaps()).toEqual([s6]);
    expect(b6.warnings.join("\n")).toMatch(
      /no snapshot of .* exists on both the source and .* any more: sending .* in full/,
    );
    await same(join(rig.data, ".snapback", s6 ?? ""), join(rig.targetDir, s6 ?? ""));
    expect(names(await rig.targetSnaps())).toEqual([s1, s2, s4, s5, s6].sort());
  });

  test("interrupted receives: SIGTERM cleans up at once; after SIGKILL the next run removes the partial and completes", async () => {
    await using rig = await createRig();
    await mkdir(join(rig.data, "big"));
    // More than the MiB a gated receive gets: the rest of the stream waits behind the gate.
    await writeFile(join(rig.data, "big", "f"), randomBytes(8 * 1024 * 1024));
    await rig.configure();
    /** The partial subvolume a held receive made (it stays while the gate is shut). */
    const partial = async (gate: ReceiveGate): Promise<SubvolumeInfo | undefined> => {
      await gate.held();
      for (;;) {
        const found = (await rig.targetSnaps()).find((s) => !s.readonly);
        if (found) return found;
      }
    };

    // SIGTERM: snapback stops send and receive, removes the partial and its snapshot, exits 130.
    {
      await using gate = await receiveGate("btrfs");
      let termPid = 0;
      const termed = snapback(["--config", rig.configPath, "backup"], {
        env: { PATH: gate.path },
        onSpawn: (c) => (termPid = c.pid ?? 0),
      });
      expect(await partial(gate), "the receive never started").toBeDefined();
      process.kill(termPid, "SIGTERM");
      const t = await termed;
      expect(t.exitCode, t.stderr).toBe(130);
    }
    expect(await rig.targetSnaps()).toEqual([]);
    expect(await rig.sourceSnaps()).toEqual([]);
    const leftover = await run("pgrep", ["-f", `btrfs (send|receive) .*${rig.data}`], {
      reject: false,
    });
    expect(leftover.stdout).toBe("");

    {
      await using gate = await receiveGate("btrfs");
      let pid = 0;
      const killed = snapback(["--config", rig.configPath, "backup"], {
        env: { PATH: gate.path },
        onSpawn: (c) => (pid = c.pid ?? 0),
      });
      expect(await partial(gate), "the receive never started").toBeDefined();
      // The run, and the send and receive it started (each in its own process group).
      const stages = (
        await run("pgrep", ["-f", `btrfs (receive ${rig.targetDir}|send ${rig.data}/.snapback/)`], {
          reject: false,
        })
      ).stdout
        .split("\n")
        .filter(Boolean);
      expect(stages.length).toBeGreaterThanOrEqual(2);
      const groups = (await run("ps", ["-o", "pgid=", "-p", stages.join(",")])).stdout
        .split("\n")
        .map((g) => g.trim())
        .filter(Boolean);
      process.kill(-pid, "SIGKILL");
      expect((await killed).signal).toBe("SIGKILL");
      // Each stage's whole group killed and gone (not just signalled): the partial on the
      // target is then as the kill left it.
      await run("sh", [
        "-c",
        'for g; do pkill -KILL -g "$g"; done; for g; do while pgrep -g "$g" >/dev/null; do sleep 0.01; done; done',
        "sh",
        ...new Set(groups),
      ]);
    }
    const left = await rig.targetSnaps();
    expect(left).toHaveLength(1);
    expect(left[0]?.readonly === false || left[0]?.receivedUuid === undefined).toBe(true);

    const next = await rig.backup();
    expect(next.r.exitCode).toBe(0);
    expect(next.warnings.join("\n")).toContain(
      "an incomplete snapshot left by an interrupted transfer",
    );
    const [s] = await rig.sourceSnaps();
    // The killed run's snapshot was reclaimed from its journal; the new one went in full.
    expect(await rig.sourceSnaps()).toEqual([s]);
    expect(next.transfers.map((t) => [t.parent, t.snapshot])).toEqual([[undefined, s]]);
    const after = await rig.targetSnaps();
    expect(names(after)).toEqual([s]);
    expect(after.every((x) => x.readonly && x.receivedUuid !== undefined)).toBe(true);
    await same(join(rig.data, ".snapback", s ?? ""), join(rig.targetDir, s ?? ""));
  });

  test("retention keeps exactly the expected snapshots on both sides and never the last common one", async () => {
    await using rig = await createRig();
    await fill(rig.data, "r");
    await rig.configure({ plan: "[plans.p.retention]\nkeep_last = 2\nlocal_snapshots = 2" });
    const taken: string[] = [];
    for (let i = 0; i < 4; i++) {
      // Local retention orders runs by their ids, which have one-second precision.
      await nextSecond();
      await writeFile(join(rig.data, `n${i}`), `${i}\n`);
      const b = await rig.backup();
      expect(b.r.exitCode).toBe(0);
      taken.push(b.transfers[0]?.snapshot ?? "");
    }
    const [, , t3, t4] = taken;
    expect({ target: names(await rig.targetSnaps()), source: await rig.sourceSnaps() }).toEqual({
      target: [t3, t4],
      source: [t3, t4],
    });

    // A repository's own keep_last replaces the plan's for that target only.
    await rig.configure({
      plan: "[plans.p.retention]\nkeep_last = 2\nlocal_snapshots = 1",
      repo: "keep_last = 1",
    });
    const b5 = await rig.backup();
    const t5 = b5.transfers[0]?.snapshot ?? "";
    expect(b5.transfers[0]?.parent).toBe(t4);
    expect(names(await rig.targetSnaps())).toEqual([t5]);
    expect(await rig.sourceSnaps()).toEqual([t5]);

    // A newer snapshot on the target that the source lost (a run killed after its receive):
    // keep_last = 1 would keep only that one, but the last common one (t5) stays too.
    // Run ids have second precision: the stray one must sort after t5 and before the next run.
    await nextSecond();
    const stray = `snapback@p@${newRunId()}@1`;
    await run("btrfs", [
      "subvolume",
      "snapshot",
      "-r",
      rig.data,
      join(rig.data, ".snapback", stray),
    ]);
    await run("sh", [
      "-c",
      'btrfs send -q "$1" | btrfs receive -q "$2"',
      "sh",
      join(rig.data, ".snapback", stray),
      rig.targetDir,
    ]);
    await run("btrfs", ["subvolume", "delete", join(rig.data, ".snapback", stray)]);
    const pruned = await rig.cli(["--json", "prune", "p"]);
    expect(pruned.exitCode, pruned.stderr).toBe(0);
    expect(names(await rig.targetSnaps())).toEqual([t5, stray].sort());

    await nextSecond();
    const b6 = await rig.backup();
    const t6 = b6.transfers[0]?.snapshot ?? "";
    expect(b6.transfers[0]?.parent).toBe(t5);
    expect(names(await rig.targetSnaps())).toEqual([t6]);
    expect(await rig.sourceSnaps()).toEqual([t6]);
  });

  test("over ssh to a real sshd: incremental sends, restore back, a clear error when unreachable", async () => {
    await using sshd = await startSshd();
    await using rig = await createRig();
    await fill(rig.data, "ssh");
    const options = sshd.clientOptions;
    await rig.configure({
      repo: `ssh = "root@127.0.0.1"\nssh_options = ${JSON.stringify(options)}`,
    });
    const first = await rig.backup();
    expect(first.r.exitCode, first.r.stderr).toBe(0);
    expect(first.transfers[0]?.parent).toBeUndefined();
    expect(first.transfers[0]?.receive).toMatch(
      /^ssh -o BatchMode=yes .* -- root@127\.0\.0\.1 "btrfs receive .*"$/,
    );
    await writeFile(join(rig.data, "more"), "more\n");
    const second = await rig.backup();
    expect(second.r.exitCode).toBe(0);
    const [s1, s2] = [first.transfers[0]?.snapshot, second.transfers[0]?.snapshot];
    expect(second.transfers[0]?.parent).toBe(s1);
    await same(join(rig.data, ".snapback", s2 ?? ""), join(rig.targetDir, s2 ?? ""));

    const snaps = JSON.parse((await rig.cli(["--json", "snapshots"])).stdout) as unknown[];
    expect(snaps).toHaveLength(2);
    const restoreDir = join(rig.src.mountpoint, "from-ssh");
    const restored = await rig.cli(["restore", "p", "--target", restoreDir]);
    expect(restored.exitCode, restored.stderr).toBe(0);
    await same(join(rig.data, ".snapback", s2 ?? ""), join(restoreDir, s2 ?? ""));
    await run("btrfs", ["subvolume", "delete", join(restoreDir, s2 ?? "")]);
    const engine = new BtrfsTargetEngine(
      "usb",
      { engine: "btrfs", path: rig.target, ssh: "root@127.0.0.1", ssh_options: options },
      rig.stateDir,
    );
    const runId = /@p@([^@]+)@/.exec(s2 ?? "")?.[1] ?? "";
    await spotCheck(
      engine,
      runId,
      join(rig.data, ".snapback", s2 ?? ""),
      rig.data,
      join(rig.dir, "spot"),
    );

    await sshd.stop();
    await writeFile(join(rig.data, "offline"), "x\n");
    const offline = await rig.backup();
    expect(offline.r.exitCode, offline.r.stdout + offline.r.stderr).toBe(1);
    expect(offline.errors.join("\n")).toContain(
      "cannot reach repositories.usb.ssh (root@127.0.0.1) over ssh",
    );
    // The parent stays on the source for when the target is back.
    expect(await rig.sourceSnaps()).toEqual([s2]);
  });

  test("sources that are not btrfs are skipped with a warning; a busy target is refused", async () => {
    await using rig = await createRig();
    await fill(rig.data, "mixed");
    const plain = join(rig.dir, "plain");
    await mkdir(plain);
    await writeFile(join(plain, "f"), "plain\n");
    await rig.configure({ sources: [rig.data, plain] });
    const b = await rig.backup();
    expect(b.r.exitCode).toBe(0);
    expect(b.warnings.join("\n")).toContain(
      `${plain} is not on a snapshot-capable filesystem: a btrfs target can only receive btrfs snapshots, so it is not replicated to "usb"`,
    );
    expect(b.transfers).toHaveLength(1);

    await rig.configure({ sources: [plain] });
    const none = await rig.backup();
    expect(none.r.exitCode).toBe(1);
    expect(none.errors.join("\n")).toContain(
      'nothing to replicate to "usb": the plan has no btrfs source',
    );

    // Another machine's run holds the target: this one is refused with exit 4.
    await rig.configure();
    const other = await acquireTargetLock(
      localHost,
      join(rig.target, ".snapback.lock"),
      "elsewhere",
    );
    try {
      const busy = await rig.backup();
      expect(busy.r.exitCode).toBe(4);
      expect(busy.errors.join("\n")).toContain("is in use by another snapback run");
    } finally {
      await other[Symbol.asyncDispose]();
    }
    expect((await rig.backup()).r.exitCode).toBe(0);
  });

  test("a target path that is missing or not on btrfs is refused, naming the key; nothing is sent or left", async () => {
    await using rig = await createRig();
    await fill(rig.data, "where");
    const missing = join(rig.dst.mountpoint, "not-mounted-yet");
    await rig.configure({ path: missing });
    const gone = await rig.backup();
    expect(gone.r.exitCode).toBe(1);
    expect(gone.errors.join("\n")).toContain(`repositories.usb.path: ${missing}`);
    expect(gone.errors.join("\n")).toContain("does not exist");

    // The state dir is on the machine's own disk, not btrfs: named by what it is.
    const plain = join(rig.dir, "plain-target");
    await mkdir(plain);
    await rig.configure({ path: plain });
    const other = await rig.backup();
    expect(other.r.exitCode).toBe(1);
    const fstype = (await run("stat", ["-f", "-c", "%T", plain])).stdout.trim();
    expect(fstype).not.toBe("btrfs");
    expect(other.errors.join("\n")).toContain(
      `repositories.usb.path: ${plain} is on ${fstype}, not btrfs`,
    );
    expect(gone.transfers.concat(other.transfers)).toEqual([]);
    expect(await readdir(plain)).toEqual([]);
    expect(await rig.sourceSnaps()).toEqual([]);
  });
});
