import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Journal } from "../../core/journal.js";
import { createZfsPool, detectZfsSource } from "../../../test/fixtures/zfs.js";
import type { SnapshotPlan } from "../../core/snapshot.js";
import { discoverDatasets, zfsProvider } from "./index.js";

describe("discoverDatasets", () => {
  it("finds datasets by snapback:backup, or all mounted ones, and reports the unmounted", async () => {
    await using pool = await createZfsPool();
    const on = await pool.dataset("on", { "snapback:backup": "on" });
    const nightly = await pool.dataset("nightly", { "snapback:backup": "nightly,weekly" });
    const plain = await pool.dataset("plain");
    const parked = await pool.dataset("parked", { "snapback:backup": "on", canmount: "noauto" });
    const optedOut = await pool.dataset("optout", { "snapback:backup": "off" });
    // Children inherit the property, as ZFS user properties do.
    const child = await pool.dataset("on/child");

    // Other pools may exist on a shared test machine: look only at ours.
    const ours = <T extends { sources: string[]; skipped: { dataset: string; reason: string }[] }>(
      r: T,
    ): T => ({
      ...r,
      sources: r.sources.filter((s) => s.startsWith(`${pool.mountpoint}`)),
      skipped: r.skipped.filter((s) => s.dataset.startsWith(`${pool.pool}`)),
    });

    expect(await pool.zfs("get", "-H", "-o", "value", "mounted", parked.name)).toBe("no\n");

    const forNightly = ours(await discoverDatasets("property", "nightly"));
    expect(forNightly.sources).toEqual(
      [nightly.mountpoint, on.mountpoint, child.mountpoint].sort(),
    );
    expect(forNightly.skipped).toEqual([
      { dataset: parked.name, reason: "not mounted (canmount=noauto)" },
    ]);

    const forDaily = ours(await discoverDatasets("property", "daily"));
    expect(forDaily.sources).toEqual([on.mountpoint, child.mountpoint].sort());

    const all = ours(await discoverDatasets("all", "any"));
    expect(all.sources).toEqual(
      [
        pool.mountpoint,
        on.mountpoint,
        child.mountpoint,
        nightly.mountpoint,
        plain.mountpoint,
      ].sort(),
    );
    expect(all.skipped).toEqual(
      expect.arrayContaining([
        { dataset: parked.name, reason: "not mounted (canmount=noauto)" },
        { dataset: optedOut.name, reason: "snapback:backup=off" },
      ]),
    );
    expect(all.skipped).toHaveLength(2);
  });

  it("never offers snapback's own clones as sources", async () => {
    await using pool = await createZfsPool();
    const a = await pool.dataset("a", { "snapback:backup": "on" });
    const stateDir = await mkdtemp(join(tmpdir(), "snapback-test-zfs-state-"));
    try {
      const runId = `D${randomBytes(4).toString("hex")}`;
      const ctx = { plan: "d", runId, journal: await Journal.create(stateDir, runId, "d") };
      const [plan] = (await zfsProvider.plan([await detectZfsSource(a.mountpoint)], {
        ...ctx,
        recursive: true,
      })) as [SnapshotPlan];
      const taken = await zfsProvider.take(plan, ctx);
      try {
        const all = await discoverDatasets("all", "d");
        expect(all.sources.filter((s) => s.startsWith(pool.mountpoint))).toEqual([
          pool.mountpoint,
          a.mountpoint,
        ]);
        expect(all.sources.some((s) => s.includes("snapback/zfs"))).toBe(false);
        expect(all.skipped.some((s) => s.dataset.includes("snapback-"))).toBe(false);
      } finally {
        await zfsProvider.release(taken, ctx);
      }
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
