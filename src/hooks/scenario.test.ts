import { describe, expect, it } from "vitest";
import { errorMessage, SnapbackError } from "../errors.js";
import { run } from "../exec/index.js";
import { HookRunner } from "./runner.js";
import {
  hook,
  killAll,
  markedSleep,
  processesWith,
  tempDir,
  uniqueMarker,
} from "./test-support.js";

/**
 * The reason `after_snapshot` exists: a service is stopped for the snapshot instant only, and
 * comes back whatever fails afterwards. The "service" is a real detached process.
 */
describe("stop a service for the snapshot, restart it even when the run fails", () => {
  async function setUp(dir: { path: string; file(n: string): string }, mark: string) {
    const service = await markedSleep(dir.path, mark);
    const pidfile = dir.file("service.pid");
    // Daemons detach and close their output; a hook is finished when its output closes.
    const start = `setsid ${service} 1000 >/dev/null 2>&1 </dev/null & echo $! > ${pidfile}`;
    await run("sh", ["-c", start]);
    const hooks = new HookRunner(
      "db",
      [
        hook({
          when: "before",
          name: "stop-db",
          shell: `pid=$(cat ${pidfile}) && kill $pid && while grep -qs . /proc/$pid/cmdline; do sleep 0.05; done`,
        }),
        hook({ when: "after_snapshot", name: "start-db", shell: start }),
        hook({
          when: "failure",
          name: "alert",
          shell: `echo "$SNAPBACK_HOOK:$SNAPBACK_STATUS:$SNAPBACK_ERROR" >> ${dir.file("log")}`,
        }),
        hook({
          when: "finally",
          name: "done",
          shell: `echo "$SNAPBACK_HOOK:$SNAPBACK_STATUS" >> ${dir.file("log")}`,
        }),
      ],
      {},
      { killGraceMs: 2_000 },
    );
    return hooks;
  }
  const facts = {
    runId: "20260101T000000Z-0001",
    sources: ["/var/lib/db"],
    repositories: ["offsite"],
  };

  it("when the engine fails", async () => {
    await using dir = await tempDir();
    const mark = uniqueMarker();
    try {
      const hooks = await setUp(dir, mark);
      expect(await processesWith(mark)).toHaveLength(1);
      let atSnapshot: string[] | undefined;
      let beforeEngine: string[] = [];
      let error: unknown;
      try {
        await hooks.aroundSnapshots(facts, async () => {
          atSnapshot = await processesWith(mark);
        });
        beforeEngine = await processesWith(mark);
        throw new SnapbackError("restic: repository is locked");
      } catch (e) {
        error = e;
      }
      await hooks.finish({ ...facts, status: "failed", error: errorMessage(error) });

      expect(atSnapshot).toEqual([]);
      expect(beforeEngine).toHaveLength(1);
      expect(await processesWith(mark)).toEqual(beforeEngine);
      expect(await dir.lines("log")).toEqual([
        "failure:failed:restic: repository is locked",
        "finally:failed",
      ]);
    } finally {
      await killAll(mark);
    }
  });

  it("when taking the snapshot fails", async () => {
    await using dir = await tempDir();
    const mark = uniqueMarker();
    try {
      const hooks = await setUp(dir, mark);
      let atSnapshot: string[] | undefined;
      let error: unknown;
      try {
        await hooks.aroundSnapshots(facts, async () => {
          atSnapshot = await processesWith(mark);
          throw new SnapbackError("btrfs subvolume snapshot: No space left on device");
        });
      } catch (e) {
        error = e;
      }
      expect(errorMessage(error)).toBe("btrfs subvolume snapshot: No space left on device");
      expect(atSnapshot).toEqual([]);
      expect(await processesWith(mark)).toHaveLength(1);
      await hooks.finish({ ...facts, status: "failed", error: errorMessage(error) });
      expect(await dir.lines("log")).toEqual([
        "failure:failed:btrfs subvolume snapshot: No space left on device",
        "finally:failed",
      ]);
    } finally {
      await killAll(mark);
    }
  });
});
