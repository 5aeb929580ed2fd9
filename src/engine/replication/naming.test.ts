import { describe, expect, it } from "vitest";
import { escapeSourceName, parseZfsSnapshotName, runIdTime, unescapeSourceName } from "./naming.js";

describe("target names for sources", () => {
  it("escapes paths and datasets readably and one to one", () => {
    const cases: [string, string, boolean][] = [
      ["/home", "home", true],
      ["/var/lib/app", "var-lib-app", true],
      ["/", "-", true],
      ["/srv/my-data", "srv-my:2ddata", true],
      ["/srv/.hidden/x.y", "srv-.hidden-x.y", true],
      ["/.dot", ":2edot", true],
      ["/a b/ü", "a:20b-:c3:bc", true],
      ["/a:b", "a:3ab", true],
      ["tank/home", "tank-home", false],
      ["tank/home/alice_1", "tank-home-alice_1", false],
    ];
    for (const [source, name, absolute] of cases) {
      expect(escapeSourceName(source), source).toBe(name);
      expect(unescapeSourceName(name, absolute), name).toBe(source);
    }
    // Different sources never share a name.
    expect(escapeSourceName("/a-b")).not.toBe(escapeSourceName("/a/b"));
    expect(escapeSourceName("tank/a_b")).not.toBe(escapeSourceName("tank/a/b"));
  });

  it("rejects names the escaping never makes", () => {
    for (const name of ["a:zz", "a:4", ".x", "a b", "a:41"])
      expect(unescapeSourceName(name, true), name).toBeUndefined();
  });

  it("reads the time of a run id and the parts of a ZFS snapshot name", () => {
    expect(runIdTime("20261122T024000Z-1a2b")?.toISOString()).toBe("2026-11-22T02:40:00.000Z");
    expect(runIdTime("run7")).toBeUndefined();
    expect(parseZfsSnapshotName("snapback-home-20261122T024000Z-1a2b")).toEqual({
      plan: "home",
      runId: "20261122T024000Z-1a2b",
    });
    expect(parseZfsSnapshotName("snapback-db-main-20261122T024000Z-ffff")).toEqual({
      plan: "db-main",
      runId: "20261122T024000Z-ffff",
    });
    expect(parseZfsSnapshotName("autosnap_2026-11-22")).toBeUndefined();
    expect(parseZfsSnapshotName("snapback-home-x")).toBeUndefined();
  });
});
