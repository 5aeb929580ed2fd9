import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, expect, test } from "vitest";
import { createWorld, type World } from "./fixtures/cli.js";

/**
 * A writer rewrites two files in lockstep as fast as it can: counter N into a, then N into b,
 * each replaced whole (write + rename, so neither is ever seen half-written). Any real instant
 * shows a == b or a == b + 1 (between the two renames). A backup in which b is ahead of a, or
 * a ahead by more than one, was read at two different instants: it is torn.
 */
async function startWriter(dir: string): Promise<AsyncDisposable> {
  // "ready" once both files exist: a backup never starts before the writer has written.
  const script = `const fs = require("node:fs"); const d = ${JSON.stringify(dir)};
    for (let i = 1; ; i++) { for (const f of ["a", "b"]) { fs.writeFileSync(d + "/." + f, String(i)); fs.renameSync(d + "/." + f, d + "/" + f); }
      if (i === 1) process.stdout.write("ready\\n"); }`;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  const closed = new Promise<void>((resolve) => child.on("close", () => resolve()));
  const stop = async (): Promise<void> => {
    child.kill("SIGKILL");
    await closed;
  };
  try {
    const [line] = (await Promise.race([
      once(createInterface({ input: child.stdout }), "line"),
      closed.then(() => {
        throw new Error("the writer exited before it was ready");
      }),
    ])) as [string];
    expect(line).toBe("ready");
  } catch (e) {
    await stop();
    throw e;
  }
  return { [Symbol.asyncDispose]: stop };
}

async function countersOfEachBackup(w: World, dir: string): Promise<[number, number][]> {
  const out: [number, number][] = [];
  for (const s of await w.repo.snapshots()) {
    // A file missing from a backup (a live directory read mid-rename) counts as torn: NaN.
    const dump = (f: string): Promise<number> =>
      w.repo.restic(["dump", s.id, join(dir, f)]).then(Number, () => NaN);
    const a = await dump("a");
    const b = await dump("b");
    out.push([a, b]);
  }
  return out;
}

const consistent = ([a, b]: [number, number]): boolean => a === b || a === b + 1;

/** The writer moved on between one backup and the next: each backup saw a later counter. */
const advancing = (pairs: [number, number][]): boolean =>
  pairs.every(([a], i) => i === 0 || a > (pairs[i - 1]?.[0] ?? Infinity));

describe("point in time", () => {
  test("every backup of a btrfs source shows one instant while a writer runs", async () => {
    await using w = await createWorld();
    await w.writeConfig(w.basicConfig([w.data], 'exclude = [".a", ".b"]'));
    {
      await using _writer = await startWriter(w.data);
      for (let i = 0; i < 6; i++) expect((await w.cli(["backup"])).exitCode).toBe(0);
    }
    const pairs = await countersOfEachBackup(w, w.data);
    expect(pairs).toHaveLength(6);
    expect(pairs.every(([a]) => a > 0)).toBe(true);
    // Each backup is one instant, and a later one than the backup before it.
    expect(pairs.filter((p) => !consistent(p))).toEqual([]);
    expect(advancing(pairs), JSON.stringify(pairs)).toBe(true);
    const equal = pairs.filter(([a, b]) => a === b).length;
    console.log(
      `btrfs snapshot backups: ${equal}/6 with equal counters, ${6 - equal}/6 caught between the two writes, 0 torn`,
    );
  });

  test("live restic (snapshot = none) says each backup is not point in time, and reads a moving tree", async () => {
    await using w = await createWorld();
    await w.writeConfig(w.basicConfig([w.data], 'snapshot = "none"\nexclude = [".a", ".b"]'));
    {
      await using _writer = await startWriter(w.data);
      for (let i = 0; i < 6; i++) {
        const r = await w.cli(["--json", "backup"]);
        expect(r.exitCode).toBe(0);
        expect(r.stdout).toContain(`"not_point_in_time":[${JSON.stringify(w.data)}]`);
      }
    }
    const pairs = await countersOfEachBackup(w, w.data);
    expect(pairs).toHaveLength(6);
    // The writer advanced between backups, so each read the tree at a later point. A live
    // read may miss files being renamed over (NaN: a backup without them) or tear; whether it
    // does depends on timing, which is what the snapshot test rules out.
    const newest = pairs
      .map(([a, b]) => Math.max(...[a, b].filter(Number.isFinite)))
      .filter(Number.isFinite)
      .map((n): [number, number] => [n, 0]);
    expect(newest.length, JSON.stringify(pairs)).toBeGreaterThan(0);
    expect(advancing(newest), JSON.stringify(pairs)).toBe(true);
    const torn = pairs.filter((p) => !consistent(p));
    console.log(`live (snapshot = none) backups: ${torn.length}/6 torn: ${JSON.stringify(pairs)}`);
  });
});
