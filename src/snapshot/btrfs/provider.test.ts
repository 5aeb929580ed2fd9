import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createLoopBtrfs } from "../../../test/fixtures/btrfs.js";
import { SnapbackError, UsageError } from "../../errors.js";
import { run } from "../../exec/index.js";
import { Journal } from "../../core/journal.js";
import { detectSources } from "../detect.js";
import type { JournalEntry, TakeContext, TakenSnapshot, ViewBind } from "../../core/snapshot.js";
import {
  btrfsProvider,
  findSnapbackSnapshots,
  listSnapbackSnapshots,
  type BtrfsPlanDetail,
} from "./index.js";

const PLAN = "p";

/** A real journal in a temp state dir that also records, at each add(), whether the object already existed. */
async function testJournal(runId: string): Promise<
  AsyncDisposable & {
    ctx: TakeContext;
    existedAtAdd: Map<string, boolean>;
    records: () => Promise<unknown[]>;
  }
> {
  const stateDir = await mkdtemp(join(tmpdir(), "snapback-test-state-"));
  const journal = await Journal.create(stateDir, runId, PLAN);
  const existedAtAdd = new Map<string, boolean>();
  const add = journal.add.bind(journal);
  journal.add = (...entries: JournalEntry[]) => {
    for (const entry of entries) existedAtAdd.set(entry.id, existsSync(entry.id));
    return add(...entries);
  };
  return {
    ctx: { plan: PLAN, runId, journal },
    existedAtAdd,
    records: async () =>
      (await readFile(journal.path, "utf8"))
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as unknown)
        .slice(1),
    async [Symbol.asyncDispose]() {
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

async function planFor(sources: string[], runId: string, snapshotDir?: string) {
  const detected = await detectSources(PLAN, sources, "btrfs");
  return btrfsProvider.plan(detected, {
    plan: PLAN,
    runId,
    recursive: true,
    ...(snapshotDir === undefined ? {} : { snapshotDir }),
  });
}

async function readOnly(path: string): Promise<string> {
  return (await run("btrfs", ["property", "get", "-ts", path, "ro"])).stdout.trim();
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Shows the binds in a private mount namespace and prints the files there. Every snapshot is
 * first bound to a staging dir: nested snapshots live in `.snapback` below the source, which
 * the parent's bind hides.
 */
async function catInView(binds: ViewBind[], files: string[]): Promise<string> {
  const stage = await mkdtemp(join(tmpdir(), "snapback-test-stage-"));
  try {
    const lines = ["set -e", `mount -t tmpfs snapback-test-stage ${q(stage)}`];
    binds.forEach((b, i) =>
      lines.push(`mkdir ${q(`${stage}/${i}`)}`, `mount --bind ${q(b.from)} ${q(`${stage}/${i}`)}`),
    );
    binds.forEach((b, i) => lines.push(`mount --bind -o ro ${q(`${stage}/${i}`)} ${q(b.to)}`));
    lines.push(`exec cat ${files.map(q).join(" ")}`);
    return (await run("unshare", ["-m", "--propagation", "private", "sh", "-c", lines.join("\n")]))
      .stdout;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/** Releases on the way out even when an assertion failed. */
function releasing(taken: TakenSnapshot, ctx: TakeContext): AsyncDisposable {
  return { [Symbol.asyncDispose]: () => btrfsProvider.release(taken, ctx) };
}

describe("btrfs provider", () => {
  it("snapshots the subvolume holding a subdirectory source and binds the matching subdir", async () => {
    await using fs = await createLoopBtrfs();
    const home = await fs.subvolume("home");
    const docs = join(home, "alice", "docs");
    await mkdir(docs, { recursive: true });
    await writeFile(join(docs, "a.txt"), "v1");
    await using j = await testJournal("run1");

    const [item, ...rest] = await planFor([`${docs}/`], "run1");
    expect(rest).toEqual([]);
    const snap = join(home, ".snapback", "snapback@p@run1@1");
    expect(item).toMatchObject({ kind: "btrfs", sources: [docs], atomic: true, nested: [] });
    expect(item?.steps).toEqual([
      `mkdir -p -m 0700 ${join(home, ".snapback")}`,
      `btrfs subvolume snapshot -r ${home} ${snap}`,
    ]);
    expect(existsSync(join(home, ".snapback")), "plan() must not touch anything").toBe(false);
    if (!item) return;

    const taken = await btrfsProvider.take(item, j.ctx);
    {
      await using _release = releasing(taken, j.ctx);
      expect(taken.names).toEqual([snap]);
      expect(taken.binds).toEqual([{ from: join(snap, "alice", "docs"), to: docs }]);
      expect(taken.warnings).toEqual([]);
      expect(await readOnly(snap)).toBe("ro=true");
      expect(((await stat(join(home, ".snapback"))).mode & 0o777).toString(8)).toBe("700");
      await writeFile(join(docs, "a.txt"), "v2");
      expect(await readFile(join(snap, "alice", "docs", "a.txt"), "utf8")).toBe("v1");
      expect(await catInView(taken.binds, [join(docs, "a.txt")])).toBe("v1");
    }
    expect(existsSync(snap)).toBe(false);
    expect(existsSync(join(home, ".snapback")), "the empty default directory goes too").toBe(false);
    expect(j.existedAtAdd.get(snap)).toBe(false);
    expect(await j.records()).toEqual([
      { add: { provider: "btrfs", type: "subvolume", id: snap } },
      { done: { provider: "btrfs", type: "subvolume", id: snap } },
    ]);
    // Idempotent: a second release of what is already gone succeeds.
    await btrfsProvider.release(taken, j.ctx);
  });

  it("takes one snapshot for two sources in one subvolume and one per other subvolume", async () => {
    await using fs = await createLoopBtrfs();
    const home = await fs.subvolume("home");
    const srv = await fs.subvolume("srv");
    await mkdir(join(home, "a"));
    await mkdir(join(home, "b"));
    await writeFile(join(home, "b", "f"), "b");
    await using j = await testJournal("run2");

    const items = await planFor([join(home, "a"), srv, join(home, "b")], "run2");
    expect(items.map((i) => i.sources)).toEqual([[join(home, "a"), join(home, "b")], [srv]]);
    const first = items[0];
    if (!first) throw new Error("no plan");
    expect(first.steps.filter((s) => s.startsWith("btrfs"))).toHaveLength(1);
    expect(first.atomic).toBe(true);

    const taken = await btrfsProvider.take(first, j.ctx);
    await using _release = releasing(taken, j.ctx);
    const snap = join(home, ".snapback", "snapback@p@run2@1");
    expect(taken.names).toEqual([snap]);
    expect(taken.binds).toEqual([
      { from: join(snap, "a"), to: join(home, "a") },
      { from: join(snap, "b"), to: join(home, "b") },
    ]);
    expect(items[1]?.steps).toContain(
      `btrfs subvolume snapshot -r ${srv} ${join(srv, ".snapback", "snapback@p@run2@2")}`,
    );
  });

  it("captures nested subvolumes two levels deep and shows them in place", async () => {
    await using fs = await createLoopBtrfs();
    const data = await fs.subvolume("data");
    await mkdir(join(data, "plain"));
    const vm = await fs.subvolume("data/vm");
    await mkdir(join(vm, "d"));
    const disk = await fs.subvolume("data/vm/d/disk");
    const outside = await fs.subvolume("elsewhere");
    for (const [dir, text] of [
      [data, "top"],
      [vm, "mid"],
      [disk, "deep"],
    ] as const) {
      await writeFile(join(dir, "f"), text);
    }
    // A snapshot of an earlier run, kept by local retention: ours, never a nested subvolume.
    await mkdir(join(data, ".snapback"), { mode: 0o700 });
    const kept = join(data, ".snapback", "snapback@p@old@1");
    await run("btrfs", ["subvolume", "snapshot", "-r", data, kept]);
    await using j = await testJournal("run3");

    const [item] = await planFor([data], "run3");
    if (!item) throw new Error("no plan");
    expect(item.nested).toEqual([vm, disk]);
    expect(item.atomic).toBe(false);
    const dir = join(data, ".snapback");
    const names = [
      `${dir}/snapback@p@run3@1`,
      `${dir}/snapback@p@run3@1.1`,
      `${dir}/snapback@p@run3@1.2`,
    ];
    expect(item.steps).toEqual([
      `btrfs subvolume snapshot -r ${data} ${names[0]}`,
      `btrfs subvolume snapshot -r ${vm} ${names[1]}`,
      `btrfs subvolume snapshot -r ${disk} ${names[2]}`,
    ]);
    expect(item.steps.join("\n")).not.toContain(outside);

    const taken = await btrfsProvider.take(item, j.ctx);
    {
      await using _release = releasing(taken, j.ctx);
      expect(taken.names).toEqual(names);
      expect(taken.binds).toEqual([
        { from: names[0], to: data },
        { from: names[1], to: vm },
        { from: names[2], to: disk },
      ]);
      for (const n of names) expect(await readOnly(n)).toBe("ro=true");
      for (const n of names) expect(j.existedAtAdd.get(n), n).toBe(false);
      for (const dirPath of [data, vm, disk]) await writeFile(join(dirPath, "f"), "changed");
      expect(await catInView(taken.binds, [join(data, "f"), join(vm, "f"), join(disk, "f")])).toBe(
        "topmiddeep",
      );
      // Without the nested binds the snapshot shows empty directories where subvolumes were.
      expect(existsSync(join(names[0] ?? "", "vm", "f"))).toBe(false);
    }
    for (const n of names) expect(existsSync(n)).toBe(false);
    expect(existsSync(kept)).toBe(true);
    const done = (await j.records()).filter(
      (r) => typeof r === "object" && r !== null && "done" in r,
    );
    expect(done.map((r) => (r as { done: JournalEntry }).done.id)).toEqual([...names].reverse());
  });

  it("captures a source inside a nested subvolume with its parent source's snapshot", async () => {
    await using fs = await createLoopBtrfs();
    const data = await fs.subvolume("data");
    const vm = await fs.subvolume("data/vm");
    await mkdir(join(vm, "img"));
    const [item, ...rest] = await planFor([data, join(vm, "img")], "run4");
    expect(rest).toEqual([]);
    expect(item?.sources).toEqual([data, join(vm, "img")]);
    expect(item?.nested).toEqual([vm]);
    const detail = item?.detail as BtrfsPlanDetail;
    expect(detail.snapshots.map((s) => s.subvolume)).toEqual([data, vm]);
    expect(detail.binds.map((b) => b.to)).toEqual([data, vm, join(vm, "img")]);
  });

  it("leaves out a nested subvolume that another mount hides", async () => {
    await using fs = await createLoopBtrfs();
    const data = await fs.subvolume("data");
    const visible = await fs.subvolume("data/visible");
    const covered = await fs.subvolume("data/covered");
    await run("mount", ["-t", "tmpfs", "snapback-test-cover", covered]);
    try {
      const [item] = await planFor([data], "run11");
      expect(item?.nested).toEqual([visible]);
    } finally {
      await run("umount", [covered]);
    }
  });

  it("removes what it created when a later snapshot of the item fails", async () => {
    await using fs = await createLoopBtrfs();
    const data = await fs.subvolume("data");
    await fs.subvolume("data/sub");
    await using j = await testJournal("run5");
    const [item] = await planFor([data], "run5");
    if (!item) throw new Error("no plan");
    const [first, second] = (item.detail as BtrfsPlanDetail).snapshots.map((s) => s.snapshot);
    if (!first || !second) throw new Error("expected two snapshots");
    await mkdir(join(data, ".snapback"));
    await writeFile(second, "in the way");

    const e = await btrfsProvider.take(item, j.ctx).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(SnapbackError);
    expect((e as Error).message).toContain(`btrfs snapshot of ${join(data, "sub")} failed`);
    expect(existsSync(first)).toBe(false);
    const records = await j.records();
    for (const id of [first, second]) {
      expect(records).toContainEqual({ add: { provider: "btrfs", type: "subvolume", id } });
      expect(records).toContainEqual({ done: { provider: "btrfs", type: "subvolume", id } });
    }
  });

  it("reclaims a leftover snapshot and refuses anything that is not one", async () => {
    await using fs = await createLoopBtrfs();
    const data = await fs.subvolume("data");
    await using j = await testJournal("run6");
    const [item] = await planFor([data], "run6");
    if (!item) throw new Error("no plan");
    await btrfsProvider.take(item, j.ctx); // the run "dies" here: no release

    const pending = (await j.records()).map((r) => (r as { add: JournalEntry }).add);
    expect(pending).toHaveLength(1);
    const leftover = pending[0];
    if (!leftover) throw new Error("nothing journaled");
    expect(existsSync(leftover.id)).toBe(true);
    await btrfsProvider.reclaim(leftover);
    expect(existsSync(leftover.id)).toBe(false);
    expect(existsSync(join(data, ".snapback")), "the emptied default directory goes too").toBe(
      false,
    );
    await btrfsProvider.reclaim(leftover); // already gone: fine

    await expect(
      btrfsProvider.reclaim({ provider: "btrfs", type: "subvolume", id: data }),
    ).rejects.toThrow(/refusing to delete .*not a snapback snapshot/);
    const impostor = join(data, ".snapback", "snapback@p@x@1");
    await mkdir(impostor, { recursive: true });
    await expect(
      btrfsProvider.reclaim({ provider: "btrfs", type: "subvolume", id: impostor }),
    ).rejects.toThrow(/not a btrfs subvolume/);
    expect(existsSync(data)).toBe(true);
    expect(existsSync(impostor)).toBe(true);
  });

  it("lists snapback snapshots in a directory and on a filesystem", async () => {
    await using fs = await createLoopBtrfs();
    const data = await fs.subvolume("data");
    await using j = await testJournal("run7");
    const [item] = await planFor([data], "run7");
    if (!item) throw new Error("no plan");
    const taken = await btrfsProvider.take(item, j.ctx);
    await using _release = releasing(taken, j.ctx);
    await mkdir(join(data, ".snapback", "snapback@p@plain@1")); // a plain directory is not a snapshot
    await fs.subvolume("data/.snapback/not-ours");

    const inDir = await listSnapbackSnapshots(join(data, ".snapback"));
    expect(inDir.map((s) => [s.path, s.plan, s.runId, s.item, s.nested])).toEqual([
      [taken.names[0], "p", "run7", 1, undefined],
    ]);
    expect(inDir[0]?.createdMs).toBeGreaterThan(0);
    expect(await listSnapbackSnapshots(join(data, "missing"))).toEqual([]);
    const [detected] = await detectSources(PLAN, [data], "btrfs");
    if (!detected) throw new Error("not detected");
    expect((await findSnapbackSnapshots(detected.mount)).map((s) => s.path)).toEqual(taken.names);
  });

  it("uses snapshot_dir on the same filesystem (even through another mount) and refuses one elsewhere", async () => {
    await using fs = await createLoopBtrfs();
    await using other = await createLoopBtrfs(256, "snapback-test-other");
    const data = await fs.subvolume("data");
    await writeFile(join(data, "f"), "data");
    await fs.subvolume("data/inner");
    const snaps = join(fs.mountpoint, "snaps", "p");
    await using j = await testJournal("run8");
    // The source is reached through its own subvol= mount; the snapshot dir through the top level.
    const source = await mkdtemp(join(tmpdir(), "snapback-test-subvolmnt-"));
    try {
      await run("mount", ["-o", "subvol=/data", fs.device, source]);
      try {
        const [item] = await planFor([source], "run8", snaps);
        if (!item) throw new Error("no plan");
        const taken = await btrfsProvider.take(item, j.ctx);
        await using _release = releasing(taken, j.ctx);
        const snap = join(snaps, "snapback@p@run8@1");
        // Subvolume paths from the top level are mapped through the mount's fsroot (/data).
        expect(item.nested).toEqual([join(source, "inner")]);
        expect(taken.names).toEqual([snap, `${snap}.1`]);
        expect(taken.binds).toEqual([
          { from: snap, to: source },
          { from: `${snap}.1`, to: join(source, "inner") },
        ]);
        expect(await readFile(join(snap, "f"), "utf8")).toBe("data");
        expect(((await stat(snaps)).mode & 0o777).toString(8)).toBe("700");
        expect(existsSync(join(data, ".snapback"))).toBe(false);
      } finally {
        await run("umount", [source]);
      }
    } finally {
      await rm(source, { recursive: true, force: true });
    }

    const elsewhere = await planFor([data], "run8", join(other.mountpoint, "snaps")).catch(
      (e: unknown) => e,
    );
    expect(elsewhere).toBeInstanceOf(UsageError);
    expect((elsewhere as Error).message).toMatch(
      /^plans\.p\.snapshot_dir: .* is on another filesystem than/,
    );
    const notBtrfs = await planFor([data], "run8", join(tmpdir(), "snapback-test-nowhere")).catch(
      (e: unknown) => e,
    );
    expect(notBtrfs).toBeInstanceOf(UsageError);
    expect((notBtrfs as Error).message).toContain("is not on a btrfs filesystem");
  });

  it("says so when the mount shows only a directory inside a subvolume", async () => {
    await using fs = await createLoopBtrfs();
    const data = await fs.subvolume("data");
    await mkdir(join(data, "inner"));
    const target = await mkdtemp(join(tmpdir(), "snapback-test-bind-"));
    try {
      await run("mount", ["--bind", join(data, "inner"), target]);
      try {
        const e = await planFor([target], "run9").catch((err: unknown) => err);
        expect(e).toBeInstanceOf(UsageError);
        expect((e as Error).message).toContain("not reachable through the mount");
        expect((e as Error).message).toContain("/data/inner");
      } finally {
        await run("umount", [target]);
      }
    } finally {
      await rm(target, { recursive: true, force: true });
    }
  });

  it("takes one snapshot per source, each holding that source's own files; release removes each", async () => {
    await using fs = await createLoopBtrfs();
    const sources: string[] = [];
    for (const name of ["a", "b", "c", "d"]) {
      const dir = await fs.subvolume(name);
      for (let i = 0; i < 200; i++) await writeFile(join(dir, `f${i}`), `${name}${i}`);
      sources.push(dir);
    }
    await using j = await testJournal("run10");
    const items = await planFor(sources, "run10");
    const takenAll: TakenSnapshot[] = [];
    const snaps: { subvolume: string; snapshot: string }[] = [];
    try {
      for (const item of items) takenAll.push(await btrfsProvider.take(item, j.ctx));
      expect(takenAll.flatMap((t) => t.names)).toHaveLength(4);
      snaps.push(...takenAll.flatMap((t) => (t.plan.detail as BtrfsPlanDetail).snapshots));
      expect(snaps.map((s) => s.subvolume).sort()).toEqual([...sources].sort());
      for (const s of snaps) {
        const name = s.subvolume.slice(s.subvolume.lastIndexOf("/") + 1);
        expect(await readFile(join(s.snapshot, "f0"), "utf8")).toBe(`${name}0`);
        expect(await readFile(join(s.snapshot, "f199"), "utf8")).toBe(`${name}199`);
      }
    } finally {
      for (const t of takenAll.reverse()) await btrfsProvider.release(t, j.ctx);
    }
    expect(snaps.filter((s) => existsSync(s.snapshot))).toEqual([]);
  });
});
