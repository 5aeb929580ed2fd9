import { chmod, mkdir, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../engine/restic/test-support.js";
import { compareFile, firstDifference, nsIso } from "./compare.js";
import { snapshotResolver } from "./spot.js";
import { checkDue, parseEvery } from "./state.js";
import { readDataSubsetProblem } from "../config/read-data.js";

const T = new Date("2022-02-03T04:05:06.789Z");
const T_NS = 1643861106789000000n;

describe("spot check pieces", () => {
  it("maps original paths into the snapshot through the deepest bind", () => {
    const resolve = snapshotResolver([
      { from: "/fs/.snapback/snap@1", to: "/home" },
      { from: "/fs/.snapback/snap@1.1", to: "/home/nested" },
      { from: "/r/.snapback/root@1", to: "/" },
    ]);
    expect(resolve("/home/a/b")).toBe("/fs/.snapback/snap@1/a/b");
    expect(resolve("/home/nested/x")).toBe("/fs/.snapback/snap@1.1/x");
    expect(resolve("/home/nestedx")).toBe("/fs/.snapback/snap@1/nestedx");
    expect(resolve("/etc/hosts")).toBe("/r/.snapback/root@1/etc/hosts");
    expect(snapshotResolver([])("/live/file")).toBe("/live/file");
  });

  it("compares bytes, mode and mtime, and tells a changed source from a bad backup", async () => {
    await using d = await tempDir("compare");
    const src = join(d.path, "src");
    const got = join(d.path, "got");
    await mkdir(src);
    await mkdir(got);
    const write = async (dir: string, content: string, mode = 0o644): Promise<string> => {
      const f = join(dir, "f");
      await writeFile(f, content);
      await chmod(f, mode);
      await utimes(f, T, T);
      return f;
    };
    const recorded = { path: "/orig/f", size: 6, mtimeNs: T_NS };
    const s = await write(src, "hello\n");
    let g = await write(got, "hello\n");
    expect(await compareFile(recorded, g, s, [])).toEqual({
      path: "/orig/f",
      status: "ok",
      problems: [],
    });

    g = await write(got, "hellO\n", 0o600);
    await utimes(g, T, new Date(T.getTime() + 1000));
    const bad = await compareFile(recorded, g, s, [
      "ignoring error for /orig/f: ciphertext verification failed",
    ]);
    expect(bad.status).toBe("mismatch");
    expect(bad.problems).toEqual([
      "restic: ignoring error for /orig/f: ciphertext verification failed",
      "content differs from byte 4",
      "mode 0600, source 0644",
      `mtime ${nsIso(T_NS + 1_000_000_000n)}, source ${nsIso(T_NS)}`,
    ]);
    expect(await compareFile(recorded, join(got, "missing"), s, [])).toMatchObject({
      status: "mismatch",
      problems: ["not restored"],
    });

    await write(src, "hello, changed\n");
    expect(await compareFile(recorded, g, s, [])).toMatchObject({ status: "changed" });
    expect((await compareFile(recorded, g, s, [])).problems[0]).toMatch(
      /^changed since the backup \(size 6 → 15\)$/,
    );
    expect(await compareFile(recorded, g, join(src, "gone"), [])).toEqual({
      path: "/orig/f",
      status: "changed",
      problems: ["deleted since the backup"],
    });
  });

  it("finds the first difference across chunk boundaries and in length", async () => {
    await using d = await tempDir("diff");
    const a = Buffer.alloc(3 * 1024 * 1024, 7);
    const b = Buffer.from(a);
    b[2 * 1024 * 1024 + 5] = 8;
    await writeFile(join(d.path, "a"), a);
    await writeFile(join(d.path, "b"), b);
    await writeFile(join(d.path, "c"), a.subarray(0, 100));
    expect(await firstDifference(join(d.path, "a"), join(d.path, "a"))).toBeUndefined();
    expect(await firstDifference(join(d.path, "a"), join(d.path, "b"))).toBe(2 * 1024 * 1024 + 5);
    expect(await firstDifference(join(d.path, "a"), join(d.path, "c"))).toBe(100);
  });

  it("writes mtimes to the nanosecond, before 1970 too", () => {
    expect(nsIso(T_NS + 123n)).toBe("2022-02-03T04:05:06.789000123Z");
    expect(nsIso(-1n)).toBe("1969-12-31T23:59:59.999999999Z");
  });

  it("knows when a scheduled check is due", () => {
    expect(parseEvery("1w2d3h4m5s")).toBe(((7 + 2) * 24 * 3600 + 3 * 3600 + 4 * 60 + 5) * 1000);
    const now = new Date("2024-01-10T00:00:00Z");
    expect(checkDue("7d", undefined, now)).toBe(true);
    expect(checkDue(undefined, { last_ok: "2024-01-09T23:59:00Z" }, now)).toBe(true);
    expect(checkDue("7d", { last_ok: "2024-01-04T00:00:00Z" }, now)).toBe(false);
    expect(checkDue("7d", { last_ok: "2024-01-03T00:00:00Z" }, now)).toBe(true);
    expect(checkDue("7d", { last_ok: "garbage" }, now)).toBe(true);
  });

  it("validates read-data subsets with a message that says what is allowed", () => {
    expect(readDataSubsetProblem("all")).toBeUndefined();
    expect(readDataSubsetProblem("3/3")).toBeUndefined();
    expect(readDataSubsetProblem("0/3")).toMatch(/1 <= n <= t/);
    expect(readDataSubsetProblem("150%")).toMatch(/at most 100/);
    expect(readDataSubsetProblem("10")).toMatch(/use all, n\/t/);
  });
});
