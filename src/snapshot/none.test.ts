import { describe, expect, it } from "vitest";
import { createLoopBtrfs } from "../../test/fixtures/btrfs.js";
import { Journal } from "../core/journal.js";
import { detectSources } from "./detect.js";
import { noneProvider } from "./none.js";
import type { DetectedSource } from "../core/snapshot.js";

const onExt4 = (path: string): DetectedSource => ({
  path,
  kind: "none",
  mount: { target: "/", source: "/dev/vda", fstype: "ext4", options: "rw", fsroot: "/" },
});

describe("none provider", () => {
  it("plans one live item per source and warns at take", async () => {
    const items = await noneProvider.plan([onExt4("/srv/a"), onExt4("/srv/b")], {
      plan: "p",
      runId: "r",
      recursive: true,
    });
    expect(items.map((i) => [i.kind, i.sources, i.atomic, i.nested])).toEqual([
      ["none", ["/srv/a"], false, []],
      ["none", ["/srv/b"], false, []],
    ]);
    expect(items[0]?.steps).toEqual([
      "# /srv/a is not on a snapshot-capable filesystem (ext4): backed up live, not point-in-time",
    ]);
    const item = items[0];
    if (!item) throw new Error("no plan");
    // Nothing is created, so nothing is journaled: a journal is not even needed.
    const ctx = { plan: "p", runId: "r", journal: undefined as unknown as Journal };
    const before = Date.now();
    const taken = await noneProvider.take(item, ctx);
    expect(taken.binds).toEqual([]);
    expect(taken.names).toEqual([]);
    expect(taken.warnings).toEqual([
      "/srv/a is not on a snapshot-capable filesystem (ext4): backed up live, not point-in-time",
    ]);
    expect(taken.takenAtMs).toBeGreaterThanOrEqual(before - 1);
    await noneProvider.release(taken, ctx);
    await noneProvider.reclaim({ provider: "none", type: "x", id: "/srv/a" });
  });

  it("does not blame the filesystem when snapshots were turned off on btrfs", async () => {
    await using fs = await createLoopBtrfs();
    const sources = await detectSources("p", [fs.mountpoint], "none");
    const [item] = await noneProvider.plan(sources, { plan: "p", runId: "r", recursive: true });
    if (!item) throw new Error("no plan");
    const taken = await noneProvider.take(item, {
      plan: "p",
      runId: "r",
      journal: undefined as unknown as Journal,
    });
    expect(taken.warnings).toEqual([
      `${fs.mountpoint}: snapshot = "none": backed up live, not point-in-time`,
    ]);
  });
});
