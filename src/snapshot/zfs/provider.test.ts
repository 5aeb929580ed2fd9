import { randomBytes } from "node:crypto";
import { access, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SnapbackError } from "../../errors.js";
import { run } from "../../exec/index.js";
import { Journal } from "../../core/journal.js";
import {
  createZfsPool,
  detectZfsSource,
  journalPending,
  mountsMatching,
  snapbackObjectsIn,
} from "../../../test/fixtures/zfs.js";
import type { SnapshotPlan, TakeContext, TakenSnapshot } from "../../core/snapshot.js";
import { runTag, snapshotName, VIEW_ROOT } from "./commands.js";
import {
  listSnapbackObjects,
  removeSnapbackObject,
  zfsProvider,
  type ZfsGroupDetail,
  type ZfsTakenSnapshot,
} from "./index.js";

const PLAN = "zt";

interface Run extends AsyncDisposable {
  ctx: TakeContext;
  runId: string;
  snap: string;
  /** Every mount or dir of this run carries this in its path. */
  tag: string;
}

/** A journal in a temp state dir; disposal removes it. */
async function newRun(): Promise<Run> {
  const runId = `T${randomBytes(4).toString("hex")}`;
  const stateDir = await mkdtemp(join(tmpdir(), "snapback-test-zfs-state-"));
  const journal = await Journal.create(stateDir, runId, PLAN);
  return {
    ctx: { plan: PLAN, runId, journal },
    runId,
    snap: snapshotName(PLAN, runId),
    tag: runTag(PLAN, runId),
    async [Symbol.asyncDispose]() {
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

/** Releases on scope exit, so a failing assertion leaves nothing mounted. */
function releasing(taken: TakenSnapshot, ctx: TakeContext): AsyncDisposable {
  return { [Symbol.asyncDispose]: () => zfsProvider.release(taken, ctx) };
}

async function planFor(paths: string[], runId: string, recursive = true): Promise<SnapshotPlan[]> {
  const sources = await Promise.all(paths.map(detectZfsSource));
  return zfsProvider.plan(sources, { plan: PLAN, runId, recursive });
}

async function snapshotsIn(pool: string): Promise<string[]> {
  const r = await run("zfs", ["list", "-H", "-o", "name", "-t", "snapshot", "-r", pool]);
  return r.stdout.split("\n").filter(Boolean).sort();
}

async function prop(name: string, property: string): Promise<string> {
  return (await run("zfs", ["get", "-H", "-p", "-o", "value", property, name])).stdout.trim();
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

function bindFor(taken: TakenSnapshot, to: string): string {
  const bind = taken.binds.find((b) => b.to === to);
  if (!bind) throw new Error(`no bind to ${to} in ${JSON.stringify(taken.binds)}`);
  return bind.from;
}

/** Nothing of the run exists any more: no snapshot, clone, mount, view dir or journal entry. */
async function expectNothingLeft(pool: string, r: Run): Promise<void> {
  expect(await snapbackObjectsIn(pool)).toEqual([]);
  expect(await mountsMatching(r.tag)).toEqual([]);
  expect(await exists(join(VIEW_ROOT, r.tag))).toBe(false);
  expect(await journalPending(r.ctx.journal.path)).toEqual([]);
}

describe("ZFS provider on zfs-fuse", () => {
  it("snapshots two datasets of one pool in one atomic operation and shows them read-only", async () => {
    await using pool = await createZfsPool();
    await using r = await newRun();
    const a = await pool.dataset("a");
    const b = await pool.dataset("b");
    await writeFile(join(a.mountpoint, "f"), "A1");
    await writeFile(join(b.mountpoint, "f"), "B1");

    const plans = await planFor([a.mountpoint, b.mountpoint], r.runId);
    expect(plans).toHaveLength(1);
    const [plan] = plans as [SnapshotPlan];
    expect(plan).toMatchObject({
      kind: "zfs",
      atomic: true,
      sources: [a.mountpoint, b.mountpoint],
      nested: [],
    });
    expect(plan.steps.filter((s) => s.startsWith("zfs snapshot"))).toHaveLength(1);

    const taken = (await zfsProvider.take(plan, r.ctx)) as ZfsTakenSnapshot;
    await using _release = releasing(taken, r.ctx);

    // One command, one transaction: both snapshots carry the same creation txg.
    expect(taken.commands.filter((c) => c.startsWith("zfs snapshot"))).toHaveLength(1);
    expect(taken.commands.find((c) => c.startsWith("zfs snapshot"))).toContain(`-r`);
    const history = (await run("zpool", ["history", pool.pool])).stdout
      .split("\n")
      .filter((l) => / zfs snapshot /.test(l));
    expect(history).toHaveLength(1);
    expect(await prop(`${a.name}@${r.snap}`, "createtxg")).toBe(
      await prop(`${b.name}@${r.snap}`, "createtxg"),
    );
    // The -r on the pool made a snapshot of the pool root too; it is gone again.
    expect(await snapshotsIn(pool.pool)).toEqual([`${a.name}@${r.snap}`, `${b.name}@${r.snap}`]);
    expect(taken.names.sort()).toEqual([`${a.name}@${r.snap}`, `${b.name}@${r.snap}`]);
    expect(await prop(`${a.name}@${r.snap}`, "snapback:run")).toBe(r.runId);
    expect(await prop(`${a.name}@${r.snap}`, "snapback:plan")).toBe(PLAN);

    expect(taken.binds.map((x) => x.to)).toEqual([a.mountpoint, b.mountpoint]);
    const viewA = bindFor(taken, a.mountpoint);
    expect(viewA.startsWith(`${VIEW_ROOT}/`)).toBe(true);
    await writeFile(join(a.mountpoint, "f"), "A2");
    expect(await readFile(join(viewA, "f"), "utf8")).toBe("A1");
    expect(await readFile(join(bindFor(taken, b.mountpoint), "f"), "utf8")).toBe("B1");
    await expect(writeFile(join(viewA, "new"), "x")).rejects.toThrow(/EROFS|read-only/i);

    // Clones are ours, read-only, never auto-mounted, and not at a user path.
    const detail = plan.detail as ZfsGroupDetail;
    for (const v of detail.views) {
      expect(v.clone).toMatch(/snapback/);
      // zfs-fuse shows the mount's "temporary" rw instead of readonly=on; writing proves it.
      await expect(writeFile(join(v.dir, "new"), "x")).rejects.toThrow(/EROFS|read-only/i);
      expect(await prop(v.clone ?? "", "canmount")).toBe("noauto");
      expect(await prop(v.clone ?? "", "mountpoint")).toBe(v.dir);
      expect(await prop(v.clone ?? "", "snapback:run")).toBe(r.runId);
    }
    const kinds = (await journalPending(r.ctx.journal.path)).map((e) => e.type).sort();
    expect(kinds).toEqual(["clone", "clone", "mount", "mount", "snapshot", "snapshot"]);

    await zfsProvider.release(taken, r.ctx);
    await expectNothingLeft(pool.pool, r);
    expect(await readFile(join(a.mountpoint, "f"), "utf8")).toBe("A2");
    await zfsProvider.release(taken, r.ctx); // idempotent
  });

  it("makes one atomic group per pool", async () => {
    await using p1 = await createZfsPool();
    await using p2 = await createZfsPool();
    await using r = await newRun();
    const a = await p1.dataset("a");
    const b = await p1.dataset("b");
    const c = await p2.dataset("c");
    const plans = await planFor([a.mountpoint, c.mountpoint, b.mountpoint], r.runId);
    expect(plans.map((p) => [p.atomic, p.sources])).toEqual([
      [true, [a.mountpoint, b.mountpoint]],
      [true, [c.mountpoint]],
    ]);
  });

  it("captures both datasets at one instant while a writer updates them in lockstep", async () => {
    await using pool = await createZfsPool();
    const a = await pool.dataset("a");
    const b = await pool.dataset("b");
    const write = async (dir: string, n: number): Promise<void> => {
      await writeFile(join(dir, ".counter.tmp"), String(n));
      await rename(join(dir, ".counter.tmp"), join(dir, "counter"));
    };
    await write(a.mountpoint, 0);
    await write(b.mountpoint, 0);
    let stop = false;
    let written = 0;
    // Always a first, then b: any instant sees a == b or a == b + 1.
    const writer = (async () => {
      while (!stop) {
        written++;
        await write(a.mountpoint, written);
        await write(b.mountpoint, written);
      }
    })();

    const seen: [number, number][] = [];
    const timings: { snapshotMs: number; exposeMs: number; takeMs: number; releaseMs: number }[] =
      [];
    try {
      for (let i = 0; i < 10; i++) {
        await using r = await newRun();
        const [plan] = (await planFor([a.mountpoint, b.mountpoint], r.runId)) as [SnapshotPlan];
        const t0 = performance.now();
        const taken = (await zfsProvider.take(plan, r.ctx)) as ZfsTakenSnapshot;
        const t1 = performance.now();
        try {
          const va = Number(await readFile(join(bindFor(taken, a.mountpoint), "counter"), "utf8"));
          const vb = Number(await readFile(join(bindFor(taken, b.mountpoint), "counter"), "utf8"));
          seen.push([va, vb]);
        } finally {
          await zfsProvider.release(taken, r.ctx);
        }
        timings.push({ ...taken.timings, takeMs: t1 - t0, releaseMs: performance.now() - t1 });
        await expectNothingLeft(pool.pool, r);
      }
    } finally {
      stop = true;
      await writer;
    }

    for (const [va, vb] of seen)
      expect(va - vb === 0 || va - vb === 1, `a=${va} b=${vb}`).toBe(true);
    // The writer really ran during the snapshots, or agreement would prove nothing.
    expect(seen.at(-1)?.[0] ?? 0).toBeGreaterThan(seen[0]?.[0] ?? 0);
    expect(new Set(seen.map((s) => s[0])).size).toBeGreaterThan(5);

    const stat = (k: keyof (typeof timings)[number]): string => {
      const v = timings.map((t) => t[k]);
      return `${k} min ${Math.min(...v).toFixed(1)} / median ${v.sort((x, y) => x - y)[Math.floor(v.length / 2)]?.toFixed(1)} / max ${Math.max(...v).toFixed(1)} ms`;
    };
    console.log(
      `zfs-fuse, 2 datasets, ${written} writer rounds; seen ${JSON.stringify(seen)}\n  ${["snapshotMs", "exposeMs", "takeMs", "releaseMs"].map((k) => stat(k as keyof (typeof timings)[number])).join("\n  ")}`,
    );
  });

  it("includes mounted child datasets, each bound into place after its parent", async () => {
    await using pool = await createZfsPool();
    await using r = await newRun();
    const a = await pool.dataset("a");
    const c1 = await pool.dataset("a/c1");
    const g = await pool.dataset("a/c1/g");
    const off = await pool.dataset("a/off", { canmount: "noauto" });
    const outside = join(pool.dir, "outside");
    const away = await pool.dataset("a/away", { mountpoint: outside });
    for (const [dir, text] of [
      [a.mountpoint, "a"],
      [c1.mountpoint, "c1"],
      [g.mountpoint, "g"],
    ] as const) {
      await writeFile(join(dir, "f"), text);
    }

    const [plan] = (await planFor([a.mountpoint], r.runId)) as [SnapshotPlan];
    expect(plan.nested.sort()).toEqual([c1.mountpoint, g.mountpoint]);
    expect((plan.detail as ZfsGroupDetail).datasets).toEqual([a.name, c1.name, g.name]);
    const taken = (await zfsProvider.take(plan, r.ctx)) as ZfsTakenSnapshot;
    await using _release = releasing(taken, r.ctx);

    expect(taken.binds.map((x) => x.to)).toEqual([a.mountpoint, c1.mountpoint, g.mountpoint]);
    expect(await readFile(join(bindFor(taken, a.mountpoint), "f"), "utf8")).toBe("a");
    expect(await readFile(join(bindFor(taken, c1.mountpoint), "f"), "utf8")).toBe("c1");
    expect(await readFile(join(bindFor(taken, g.mountpoint), "f"), "utf8")).toBe("g");
    // -r on a also hit the unmounted and the elsewhere-mounted child; those were removed.
    expect(await snapshotsIn(pool.pool)).toEqual(
      [a.name, c1.name, g.name].map((n) => `${n}@${r.snap}`).sort(),
    );
    expect(await prop(off.name, "mounted")).toBe("no");
    expect(await prop(away.name, "mounted")).toBe("yes");

    await zfsProvider.release(taken, r.ctx);
    await expectNothingLeft(pool.pool, r);
  });

  it("leaves child datasets out when the plan says recursive = false", async () => {
    await using pool = await createZfsPool();
    await using r = await newRun();
    const a = await pool.dataset("a");
    const c1 = await pool.dataset("a/c1");
    await writeFile(join(c1.mountpoint, "f"), "c1");

    const [plan] = (await planFor([a.mountpoint], r.runId, false)) as [SnapshotPlan];
    expect(plan.nested).toEqual([]);
    const taken = await zfsProvider.take(plan, r.ctx);
    await using _release = releasing(taken, r.ctx);
    expect(taken.binds.map((x) => x.to)).toEqual([a.mountpoint]);
    expect(await snapshotsIn(pool.pool)).toEqual([`${a.name}@${r.snap}`]);
    // In a's snapshot the child's mount point is just the empty directory below it.
    expect(await readdir(join(bindFor(taken, a.mountpoint), "c1"))).toEqual([]);

    await zfsProvider.release(taken, r.ctx);
    await expectNothingLeft(pool.pool, r);
  });

  it("shows a source that is a directory inside a dataset from that directory of the snapshot", async () => {
    await using pool = await createZfsPool();
    await using r = await newRun();
    const a = await pool.dataset("a");
    const sub = join(a.mountpoint, "sub", "dir");
    await mkdir(sub, { recursive: true });
    await writeFile(join(sub, "f"), "deep");

    const [plan] = (await planFor([sub], r.runId)) as [SnapshotPlan];
    const taken = await zfsProvider.take(plan, r.ctx);
    await using _release = releasing(taken, r.ctx);
    expect(taken.binds).toHaveLength(1);
    expect(taken.binds[0]?.to).toBe(sub);
    expect(await readFile(join(bindFor(taken, sub), "f"), "utf8")).toBe("deep");
  });

  it("undoes everything when showing one of the snapshots fails", async () => {
    await using pool = await createZfsPool();
    await using r = await newRun();
    const a = await pool.dataset("a");
    const b = await pool.dataset("b");
    const [plan] = (await planFor([a.mountpoint, b.mountpoint], r.runId)) as [SnapshotPlan];
    const views = (plan.detail as ZfsGroupDetail).views;
    // A file where the second view directory belongs: the first clone exists by then.
    const blocker = views[1]?.dir ?? "";
    await mkdir(join(blocker, ".."), { recursive: true });
    await writeFile(blocker, "in the way");
    try {
      const failure = await zfsProvider.take(plan, r.ctx).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(failure).toBeInstanceOf(SnapbackError);
      expect((failure as SnapbackError).message).toMatch(/cannot show the ZFS snapshot/);
      expect((failure as SnapbackError).hint).toMatch(/nothing was left behind/);
      expect(await snapbackObjectsIn(pool.pool)).toEqual([]);
      expect(await mountsMatching(r.tag)).toEqual([]);
      expect(await journalPending(r.ctx.journal.path)).toEqual([]);
    } finally {
      await rm(join(VIEW_ROOT, r.tag), { recursive: true, force: true });
    }
  });

  it("reclaims a killed run's snapshots, clones and mounts from its journal", async () => {
    await using pool = await createZfsPool();
    await using r = await newRun();
    const a = await pool.dataset("a");
    const b = await pool.dataset("b");
    const [plan] = (await planFor([a.mountpoint, b.mountpoint], r.runId)) as [SnapshotPlan];
    const taken = await zfsProvider.take(plan, r.ctx);
    await using _safety = releasing(taken, r.ctx);
    // SIGKILL: the process is gone, only the journal and the objects remain.
    const pending = await journalPending(r.ctx.journal.path);
    expect(pending.map((e) => e.type).sort()).toEqual([
      "clone",
      "clone",
      "mount",
      "mount",
      "snapshot",
      "snapshot",
    ]);
    expect((await snapbackObjectsIn(pool.pool)).length).toBe(4);
    expect(await mountsMatching(r.tag)).toHaveLength(2);

    // Oldest first is the hard order: each snapshot still has its clone mounted.
    for (const entry of pending) await zfsProvider.reclaim(entry);
    expect(await snapbackObjectsIn(pool.pool)).toEqual([]);
    expect(await mountsMatching(r.tag)).toEqual([]);
    expect(await exists(join(VIEW_ROOT, r.tag))).toBe(false);
    for (const entry of pending) await zfsProvider.reclaim(entry); // already gone is success
  });

  it("lists leftovers by their property for cleanup and removes them", async () => {
    await using pool = await createZfsPool();
    await using r = await newRun();
    const a = await pool.dataset("a");
    const [plan] = (await planFor([a.mountpoint], r.runId)) as [SnapshotPlan];
    const taken = await zfsProvider.take(plan, r.ctx);
    await using _safety = releasing(taken, r.ctx);

    const mine = (await listSnapbackObjects()).filter((o) => o.run === r.runId);
    expect(mine.map((o) => o.type).sort()).toEqual(["clone", "snapshot"]);
    for (const o of mine) expect(o.plan).toBe(PLAN);
    for (const o of mine) expect(o.creation).toBeGreaterThan(1_600_000_000);
    const clone = mine.find((o) => o.type === "clone");
    expect(clone?.mountpoint).toBe((plan.detail as ZfsGroupDetail).views[0]?.dir);

    for (const o of mine.filter((x) => x.type === "snapshot")) await removeSnapbackObject(o);
    for (const o of mine.filter((x) => x.type === "clone")) await removeSnapbackObject(o);
    expect(await snapbackObjectsIn(pool.pool)).toEqual([]);
    expect(await mountsMatching(r.tag)).toEqual([]);
    expect(await exists(join(VIEW_ROOT, r.tag))).toBe(false);
  });

  it("never destroys a snapshot or dataset that lacks snapback's property", async () => {
    await using pool = await createZfsPool();
    const a = await pool.dataset("a");
    await pool.zfs("snapshot", `${a.name}@mine`);
    await zfsProvider.reclaim({ provider: "zfs", type: "snapshot", id: `${a.name}@mine` });
    await zfsProvider.reclaim({ provider: "zfs", type: "clone", id: a.name });
    expect(await snapshotsIn(pool.pool)).toEqual([`${a.name}@mine`]);
    expect(await prop(a.name, "mounted")).toBe("yes");
  });

  it("fails clearly on a full pool and leaves nothing", async () => {
    await using pool = await createZfsPool(64);
    await using r = await newRun();
    const a = await pool.dataset("a");
    const chunk = Buffer.alloc(1024 * 1024, 7);
    const big = join(a.mountpoint, "big");
    await writeFile(big, "");
    await expect(
      (async () => {
        for (let i = 0; i < 200; i++) await writeFile(big, chunk, { flag: "a" });
      })(),
    ).rejects.toThrow(/ENOSPC/);

    const [plan] = (await planFor([a.mountpoint], r.runId)) as [SnapshotPlan];
    const failure = await zfsProvider.take(plan, r.ctx).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(SnapbackError);
    expect((failure as Error).message).toContain(a.name);
    expect((failure as Error).message).toMatch(/out of space/);
    await expectNothingLeft(pool.pool, r);
    expect(await snapshotsIn(pool.pool)).toEqual([]);
  });

  it("refuses when the snapshot name exists, and leaves the existing snapshot alone", async () => {
    await using pool = await createZfsPool();
    await using r = await newRun();
    const a = await pool.dataset("a");
    const b = await pool.dataset("b");
    const [plan] = (await planFor([a.mountpoint, b.mountpoint], r.runId)) as [SnapshotPlan];
    const existing = `${b.name}@${r.snap}`;
    await pool.zfs("snapshot", existing);
    const guid = await prop(existing, "guid");

    await expect(zfsProvider.take(plan, r.ctx)).rejects.toThrow(
      new RegExp(`${b.name}.*already exists`),
    );
    expect(await snapshotsIn(pool.pool)).toEqual([existing]);
    expect(await prop(existing, "guid")).toBe(guid);
    expect(await journalPending(r.ctx.journal.path)).toEqual([]);

    // The same holds when only the extra snapshot -r would make clashes (here: the pool root).
    await pool.zfs("destroy", existing);
    await pool.zfs("snapshot", `${pool.pool}@${r.snap}`);
    await expect(zfsProvider.take(plan, r.ctx)).rejects.toThrow(/already exists/);
    expect(await snapshotsIn(pool.pool)).toEqual([`${pool.pool}@${r.snap}`]);
    await pool.zfs("destroy", `${pool.pool}@${r.snap}`);
    await expectNothingLeft(pool.pool, r);
  });
});
