import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  manifestErrorCount,
  parseDirEntries,
  parseJsonValues,
  parseManifests,
  rfc3339ToNs,
} from "./messages.js";
import { toSnapshots } from "./snapshots.js";
import { backupTags, tagsFromKopia } from "./tags.js";

const fixture = (name: string): string =>
  readFileSync(join(import.meta.dirname, "fixtures", name), "utf8");

describe("kopia JSON", () => {
  it("reads snapshot create --json --json-verbose: one manifest a line, stats and errors", () => {
    const [app, db, ...rest] = parseManifests(fixture("snapshot-create-verbose.stdout"));
    expect(rest).toEqual([]);
    expect(app).toMatchObject({
      id: "2d8a9f4c6b1e0a3f5d7c9b2e4a6f8d01",
      source: { host: "web1", userName: "root", path: "/srv/app" },
      description: "snapback plan home",
      startTime: "2024-05-01T10:00:00.123Z",
      endTime: "2024-05-01T10:00:07.900Z",
      incomplete: "",
      rootObject: "k5f0c9d2b7e4a1c3f6e8d0b2a4c6e8f01",
      stats: {
        fileCount: 21,
        cachedFiles: 20,
        nonCachedFiles: 1,
        totalSize: 1048576,
        errorCount: 0,
      },
    });
    expect(db?.summary?.errors).toEqual([
      { path: "secret.key", error: "open /var/lib/db/secret.key: permission denied" },
    ]);
    expect(manifestErrorCount(app!)).toBe(0);
    expect(manifestErrorCount(db!)).toBe(1);
  });

  it("reads an indented manifest without stats and counts ignored errors as unread files", () => {
    const [m] = parseManifests(
      `log line before\n${fixture("snapshot-create-indented.stdout")}\ntrailing text`,
    );
    expect(m?.stats).toBeUndefined();
    expect(m?.summary).toMatchObject({ files: 1234, dirs: 89, numFailed: 0, numIgnoredErrors: 2 });
    expect(manifestErrorCount(m!)).toBe(2);
    expect(m?.tags).toEqual({});
  });

  it("reads snapshot list --json: drops incomplete snapshots and non-manifests, filters by plan, oldest first", () => {
    const manifests = parseManifests(fixture("snapshot-list.stdout"));
    expect(manifests.map((m) => m.id)).toHaveLength(4);
    expect(manifests[0]?.retentionReasons).toEqual(["latest-1", "daily-1"]);
    expect(manifests[1]?.retentionReasons).toBeUndefined();
    const home = toSnapshots(manifests, "home");
    expect(home.map((s) => s.id)).toEqual([
      "0011223344556677889900aabbccddee",
      "aa11bb22cc33dd44ee55ff6677889900",
    ]);
    expect(home[1]).toMatchObject({
      shortId: "aa11bb22",
      time: "2024-05-02T10:00:00.500Z",
      paths: ["/srv/app"],
      tags: ["plan:home"],
      host: "web1",
      plan: "home",
      run: "r2",
    });
    expect(toSnapshots(manifests).map((s) => s.plan)).toEqual(["home", "home", "other"]);
  });

  it("splits concatenated JSON values and ignores brackets inside strings", () => {
    expect(parseJsonValues('{"a":"}{"}\n[1,2] noise {"b":{"c":[3]}}')).toEqual([
      { a: "}{" },
      [1, 2],
      { b: { c: [3] } },
    ]);
    expect(parseJsonValues("not json at all")).toEqual([]);
  });

  it("reads a directory object and keeps mtimes to the nanosecond", () => {
    const entries = parseDirEntries(fixture("dir-manifest.stdout"));
    expect(entries?.map((e) => [e.name, e.type, e.size])).toEqual([
      ["a.txt", "f", 6],
      ["link", "s", 0],
      ["sub", "d", 0],
    ]);
    expect(rfc3339ToNs("2024-04-30T08:00:00.123456789Z")).toBe(1714464000123456789n);
    expect(rfc3339ToNs("2024-04-30T10:00:00.5+02:00")).toBe(1714464000500000000n);
    expect(rfc3339ToNs("yesterday")).toBeUndefined();
  });
});

describe("kopia tags", () => {
  it("maps plan tags to key:value and back, plan and run last", () => {
    const args = backupTags("home", ["nightly", "env:prod"], "run1");
    expect(args).toEqual(["nightly:", "env:prod", "plan:home", "snapback-run:run1"]);
    const stored = Object.fromEntries(
      args.map((a) => [`tag:${a.slice(0, a.indexOf(":"))}`, a.slice(a.indexOf(":") + 1)]),
    );
    expect(tagsFromKopia(stored)).toEqual(["env:prod", "nightly", "plan:home"]);
  });

  it("refuses plan tags kopia cannot hold", () => {
    expect(() => backupTags("home", ["plan:x"], "r")).toThrow(
      /plans\.home\.tags: "plan:x" uses the key "plan"/,
    );
    expect(() => backupTags("home", ["env:a", "env:b"], "r")).toThrow(
      /"env:a" and "env:b" have the same key "env"/,
    );
  });
});
