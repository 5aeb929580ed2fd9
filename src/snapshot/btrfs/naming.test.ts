import { describe, expect, it } from "vitest";
import { newRunId } from "../../core/runid.js";
import { formatSnapshotName, isSnapbackSnapshotPath, parseSnapshotName } from "./naming.js";

describe("snapshot names", () => {
  it("round-trips plan, run id and indexes", () => {
    const runId = newRunId(new Date("2026-11-22T02:40:00Z"));
    for (const n of [
      { plan: "home", runId, item: 1 },
      { plan: "db.main_2-x", runId, item: 12, nested: 3 },
    ]) {
      const name = formatSnapshotName(n);
      expect(name.startsWith(`snapback@${n.plan}@${runId}@`)).toBe(true);
      expect(parseSnapshotName(name)).toEqual(n);
    }
    expect(formatSnapshotName({ plan: "home", runId: "r1", item: 2, nested: 1 })).toBe(
      "snapback@home@r1@2.1",
    );
  });

  it("rejects names snapback did not make", () => {
    for (const name of [
      "home",
      "snapback@home@r1",
      "snapback@home@r1@0",
      "snapback@-x@r1@1",
      "snapback@a@b@c@1",
      "snapback@a@r1@1.x",
      "xsnapback@a@r1@1",
    ]) {
      expect(parseSnapshotName(name), name).toBeUndefined();
    }
  });

  it("refuses to build an ambiguous name", () => {
    expect(() => formatSnapshotName({ plan: "a@b", runId: "r", item: 1 })).toThrow(/plan name/);
    expect(() => formatSnapshotName({ plan: "a", runId: "r@1", item: 1 })).toThrow(/run id/);
    expect(() => formatSnapshotName({ plan: "a", runId: "r/1", item: 1 })).toThrow(/run id/);
    expect(() => formatSnapshotName({ plan: "a", runId: "r", item: 0 })).toThrow(/item/);
  });

  it("accepts only absolute paths that end in a snapshot name", () => {
    expect(isSnapbackSnapshotPath("/home/.snapback/snapback@home@r1@1")).toBe(true);
    expect(isSnapbackSnapshotPath("/srv/snaps/snapback@home@r1@1.2")).toBe(true);
    expect(isSnapbackSnapshotPath("/home/.snapback")).toBe(false);
    expect(isSnapbackSnapshotPath("/home")).toBe(false);
    expect(isSnapbackSnapshotPath("home/.snapback/snapback@home@r1@1")).toBe(false);
    expect(isSnapbackSnapshotPath("/home/.snapback/snapback@home@r1@1/..")).toBe(false);
  });
});
