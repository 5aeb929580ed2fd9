import { describe, expect, it } from "vitest";
import type { KeptSnapshot } from "../core/snapshot.js";
import { selectLocal } from "./local-snapshots.js";

let seq = 0;
function point(location: string, runId: string, item = 1): KeptSnapshot {
  seq++;
  return {
    kind: "btrfs",
    plan: "p",
    runId,
    location,
    objects: [`${location}/snapback@p@${runId}@${item}`],
    createdMs: 1_000 * seq,
    sequence: seq,
    sources: [],
  };
}

const runs = (xs: KeptSnapshot[]): string[] => xs.map((x) => `${x.location}:${x.runId}`);

describe("selectLocal", () => {
  it("keeps the newest N runs per location, counting creation order, not names", () => {
    // Run ids that sort the other way than they were made: order comes from `sequence`.
    const a = ["r9", "r8", "r7", "r6"].map((r) => point("/a", r));
    const b = ["r1", "r2"].map((r) => point("/b", r));
    const s = selectLocal([...a, ...b], 2);
    expect(runs(s.keep)).toEqual(["/a:r7", "/a:r6", "/b:r1", "/b:r2"]);
    expect(runs(s.remove)).toEqual(["/a:r9", "/a:r8"]);
  });

  it("keeps every item of a kept run in a shared location", () => {
    const pts = [
      point("/s", "r1", 1),
      point("/s", "r1", 2),
      point("/s", "r2", 1),
      point("/s", "r2", 2),
    ];
    const s = selectLocal(pts, 1);
    expect(s.keep.map((k) => k.objects[0])).toEqual(["/s/snapback@p@r2@1", "/s/snapback@p@r2@2"]);
    expect(s.remove).toHaveLength(2);
  });

  it("counts the running backup as one of N and never removes it", () => {
    const pts = ["r1", "r2", "r3"].map((r) => point("/a", r));
    expect(runs(selectLocal(pts, 2, "r3").keep)).toEqual(["/a:r2", "/a:r3"]);
    // N = 0: the run releases its own snapshot; every older one goes.
    const none = selectLocal(pts, 0, "r3");
    expect(runs(none.keep)).toEqual([]);
    expect(runs(none.remove)).toEqual(["/a:r1", "/a:r2"]);
    expect(runs(selectLocal(pts, 0).remove)).toEqual(["/a:r1", "/a:r2", "/a:r3"]);
  });
});
