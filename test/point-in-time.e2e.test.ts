import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { createWorld, type World } from "./fixtures/cli.js";

/**
 * A writer rewrites two files in lockstep as fast as it can: counter N into a, then N into b,
 * each replaced whole (write + rename, so neither is ever seen half-written). Any real instant
 * shows a == b or a == b + 1 (between the two renames). A backup in which b is ahead of a, or
 * a ahead by more than one, was read at two different instants: it is torn.
 */
function startWriter(dir: string): { stop: () => Promise<void> } {
  const script = `const fs = require("node:fs"); const d = ${JSON.stringify(dir)};
    for (let i = 1; ; i++) for (const f of ["a", "b"]) { fs.writeFileSync(d + "/." + f, String(i)); fs.renameSync(d + "/." + f, d + "/" + f); }`;
  const child = spawn(process.execPath, ["-e", script], { stdio: "ignore" });
  return {
    stop: () =>
      new Promise((resolve) => {
        child.on("close", () => resolve());
        child.kill("SIGKILL");
      }),
  };
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

describe("point in time", () => {
  test("every backup of a btrfs source shows one instant while a writer runs", async () => {
    await using w = await createWorld();
    await w.writeConfig(w.basicConfig([w.data], 'exclude = [".a", ".b"]'));
    const writer = startWriter(w.data);
    try {
      for (let i = 0; i < 6; i++) expect((await w.cli(["backup"])).exitCode).toBe(0);
    } finally {
      await writer.stop();
    }
    const pairs = await countersOfEachBackup(w, w.data);
    expect(pairs).toHaveLength(6);
    expect(pairs.every(([a]) => a > 0)).toBe(true);
    expect(pairs.filter((p) => !consistent(p))).toEqual([]);
    const equal = pairs.filter(([a, b]) => a === b).length;
    console.log(
      `btrfs snapshot backups: ${equal}/6 with equal counters, ${6 - equal}/6 caught between the two writes, 0 torn`,
    );
  });

  test("report: how often plain live restic tears (snapshot = none)", async () => {
    await using w = await createWorld();
    await w.writeConfig(w.basicConfig([w.data], 'snapshot = "none"\nexclude = [".a", ".b"]'));
    const writer = startWriter(w.data);
    try {
      for (let i = 0; i < 6; i++) {
        const r = await w.cli(["--json", "backup"]);
        expect(r.exitCode).toBe(0);
        expect(r.stdout).toContain('"not_point_in_time":["');
      }
    } finally {
      await writer.stop();
    }
    const pairs = await countersOfEachBackup(w, w.data);
    const torn = pairs.filter((p) => !consistent(p));
    console.log(
      `live (snapshot = none) backups: ${torn.length}/${pairs.length} torn: ${JSON.stringify(pairs)}`,
    );
    expect(pairs).toHaveLength(6);
  });
});
