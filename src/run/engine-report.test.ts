import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import type { BackupSummary } from "../engine/types.js";
import { tempDir } from "../engine/restic/test-support.js";
import { changedDevices, churnMessage, DeviceIdMemory } from "./engine-report.js";

const NOTE = "restic 0.14.0 lacks device-id-for-hardlinks: … upgrade to restic >= 0.17";

function summary(over: Partial<BackupSummary>): BackupSummary {
  return {
    snapshotId: "s",
    filesNew: 0,
    filesChanged: 0,
    filesUnmodified: 40,
    dirsNew: 0,
    dirsChanged: 44,
    dirsUnmodified: 0,
    dataBlobs: 0,
    treeBlobs: 44,
    dataAdded: 15000,
    totalFilesProcessed: 40,
    totalBytesProcessed: 400,
    durationS: 1,
    errorCount: 0,
    errors: [],
    ...over,
  };
}

describe("the churn warning of a restic without device-id-for-hardlinks", () => {
  test("a new device id: named with the numbers, also when files changed", () => {
    const m = churnMessage(summary({ filesChanged: 2 }), NOTE, { "/home": 47 }, { "/home": 52 });
    expect(m).toBe(
      "the snapshot got a new device id (/home (47 → 52)), so restic stored 44 changed " +
        "directories again (44 new tree blobs; the 15000 bytes added include the changed " +
        `files' data, which restic does not report apart): ${NOTE}`,
    );
    const quiet = churnMessage(summary({}), NOTE, { "/home": 47 }, { "/home": 52 });
    expect(quiet).toContain("(15000 bytes of tree data added)");
  });

  test("the device id kept: no warning, even when no file changed and directories did", () => {
    expect(churnMessage(summary({}), NOTE, { "/home": 47 }, { "/home": 47 })).toBeUndefined();
    expect(
      churnMessage(summary({ filesNew: 1 }), NOTE, { "/home": 47 }, { "/home": 47 }),
    ).toBeUndefined();
  });

  test("the parent's device ids unknown: only a backup without changed files is sure churn", () => {
    expect(churnMessage(summary({}), NOTE, undefined, { "/home": 52 })).toBe(
      `no file changed, yet restic stored 44 changed directories (15000 bytes of tree data added): ${NOTE}`,
    );
    expect(churnMessage(summary({ filesNew: 1 }), NOTE, undefined, { "/home": 52 })).toBe(
      undefined,
    );
    expect(churnMessage(summary({ dirsChanged: 0 }), NOTE, undefined, {})).toBeUndefined();
  });

  test("only paths known on both sides are compared", () => {
    expect(changedDevices({ "/a": 1, "/b": 2 }, { "/a": 1, "/b": 3, "/c": 9 })).toEqual([
      "/b (2 → 3)",
    ]);
  });

  test("the memory keeps each repository's and path set's ids across instances", async () => {
    await using d = await tempDir("device-ids");
    const key = DeviceIdMemory.key("r", ["/b", "/a"]);
    expect(key).toBe(DeviceIdMemory.key("r", ["/a", "/b"]));
    await new DeviceIdMemory(d.path).set(key, { "/a": 47 });
    await new DeviceIdMemory(d.path).set(DeviceIdMemory.key("r2", ["/a"]), { "/a": 9 });
    expect(await new DeviceIdMemory(d.path).get(key)).toEqual({ "/a": 47 });
    expect(await new DeviceIdMemory(d.path).get(DeviceIdMemory.key("r", ["/a"]))).toBe(undefined);
    expect(JSON.parse(await readFile(join(d.path, "device-ids.json"), "utf8"))).toHaveProperty([
      key,
    ]);
  });
});
