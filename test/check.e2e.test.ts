import { chmod, mkdir, open, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { writeRandomFile } from "../src/engine/restic/test-support.js";
import { createWorld, leftovers, type World } from "./fixtures/cli.js";

interface JsonEvent {
  type: string;
  [k: string]: unknown;
}

interface SpotFile {
  path: string;
  status: string;
  problems: string[];
}

interface CheckDoc {
  ok: boolean;
  repositories: { repository: string; ok: boolean; read_data?: string; errors: string[] }[];
  spot: {
    plan: string;
    repository: string;
    files_in_backup: number;
    sampled: number;
    matched: number;
    ok: boolean;
    mismatches: SpotFile[];
    changed: SpotFile[];
    resampled: number;
    warnings: string[];
    errors: string[];
  }[];
  errors: string[];
}

function events(stdout: string): JsonEvent[] {
  return stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as JsonEvent);
}

/** A big incompressible file (its own data pack) and small files with distinct modes and mtimes. */
async function populate(w: World): Promise<{ big: string; small: string[] }> {
  const big = join(w.data, "big.bin");
  await writeRandomFile(big, 3);
  const docs = join(w.data, "docs");
  await mkdir(docs);
  const small: string[] = [];
  for (let i = 0; i < 8; i++) {
    const f = join(docs, `note ${i}.txt`);
    await writeFile(f, `note ${i}\n`.repeat(i + 1));
    await chmod(f, i % 2 === 0 ? 0o640 : 0o604);
    await utimes(
      f,
      new Date(`2021-0${(i % 9) + 1}-0${(i % 9) + 1}T01:02:03.456Z`),
      new Date(`2021-0${(i % 9) + 1}-0${(i % 9) + 1}T01:02:03.456Z`),
    );
    small.push(f);
  }
  return { big, small };
}

/** Overwrites bytes in the middle of the largest pack under repo/data: the big file's data. */
async function corruptLargestPack(repoDir: string): Promise<void> {
  let largest = { path: "", size: 0 };
  for (const sub of await readdir(join(repoDir, "data"))) {
    for (const name of await readdir(join(repoDir, "data", sub))) {
      const path = join(repoDir, "data", sub, name);
      const size = (await stat(path)).size;
      if (size > largest.size) largest = { path, size };
    }
  }
  const fh = await open(largest.path, "r+");
  try {
    await fh.write(Buffer.alloc(64, 0x58), 0, 64, Math.floor(largest.size / 2));
  } finally {
    await fh.close();
  }
}

describe("check (real restic, real btrfs)", () => {
  test("a spot check passes on a good backup, tells changed files apart, and catches a damaged pack; --read-data fails too", async () => {
    await using w = await createWorld();
    const { big, small } = await populate(w);
    await w.writeConfig(w.basicConfig([w.data]));
    expect((await w.cli(["backup"])).exitCode).toBe(0);

    const good = await w.cli(["--json", "check", "--spot", "50"]);
    expect(good.stderr).toBe("");
    expect(good.exitCode).toBe(0);
    const goodDoc = JSON.parse(good.stdout) as CheckDoc;
    expect(goodDoc.ok).toBe(true);
    expect(goodDoc.repositories).toEqual([{ repository: "r", ok: true, errors: [] }]);
    expect(goodDoc.spot[0]).toMatchObject({
      plan: "p",
      repository: "r",
      files_in_backup: 9,
      sampled: 9,
      matched: 9,
      ok: true,
      mismatches: [],
      changed: [],
    });
    expect(await leftovers(w)).toEqual([]);

    // A file edited after the backup is "changed since the backup", not a mismatch.
    const edited = small[3] ?? "";
    await writeFile(edited, "edited after the backup\n");
    const changed = JSON.parse(
      (await w.cli(["--json", "check", "--spot", "50"])).stdout,
    ) as CheckDoc;
    expect(changed.ok).toBe(true);
    expect(changed.spot[0]?.changed.map((c) => c.path)).toEqual([edited]);
    expect(changed.spot[0]?.changed[0]?.problems.join()).toMatch(/changed since the backup \(size/);
    expect(changed.spot[0]?.matched).toBe(8);

    await corruptLargestPack(w.repo.url);
    const spot = await w.cli(["--json", "check", "--spot", "50"]);
    expect(spot.exitCode).toBe(1);
    const spotDoc = JSON.parse(spot.stdout) as CheckDoc;
    expect(spotDoc.ok).toBe(false);
    expect(spotDoc.spot[0]?.mismatches.map((m) => m.path)).toEqual([big]);
    expect(spotDoc.spot[0]?.mismatches[0]?.problems.join("; ")).toMatch(
      /content differs|not restored|ciphertext/,
    );
    expect(spotDoc.spot[0]?.matched).toBe(7);
    expect(spotDoc.spot[0]?.changed.map((c) => c.path)).toEqual([edited]);
    const spotText = await w.cli(["check", "--spot", "50"]);
    expect(spotText.exitCode).toBe(1);
    expect(spotText.stdout).toContain(`MISMATCH ${big}`);
    expect(spotText.stdout).toContain("check FAILED");

    const read = await w.cli(["--json", "check", "--read-data", "all"]);
    expect(read.exitCode).toBe(1);
    const readDoc = JSON.parse(read.stdout) as CheckDoc;
    expect(readDoc.repositories[0]).toMatchObject({ repository: "r", ok: false, read_data: "all" });
    expect(readDoc.repositories[0]?.errors.length).toBeGreaterThan(0);
    expect((await w.cli(["check"])).exitCode).toBe(0);

    const bad = await w.cli(["check", "--read-data", "7/5"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--read-data "7\/5"/);
    expect((await w.cli(["check", "--spot", "0"])).exitCode).toBe(2);

    // A repository that cannot even be opened is bad input (exit 2), not a failed check.
    const wrong = join(w.dir, "wrong.pass");
    await writeFile(wrong, "not the password\n", { mode: 0o600 });
    await w.writeConfig(w.basicConfig([w.data]).replace(w.repo.passwordFile, wrong));
    const denied = await w.cli(["check"]);
    expect(denied.exitCode).toBe(2);
    expect(denied.stdout).toMatch(/repository "r": wrong password/);
    expect(await leftovers(w)).toEqual([]);
  });

  test("a plan's scheduled check runs after a backup when due, records it, and its failure never fails the backup", async () => {
    await using w = await createWorld();
    const { big } = await populate(w);
    await w.writeConfig(
      w.basicConfig([w.data], ["[plans.p.check]", "spot = 20", 'every = "7d"'].join("\n")),
    );
    const first = await w.cli(["--json", "backup"]);
    expect(first.exitCode).toBe(0);
    expect(events(first.stdout).find((e) => e.type === "result")).toMatchObject({
      status: "success",
      check: { ok: true, spot: 20, mismatches: 0 },
    });
    const state = join(w.stateDir, "check", "p.json");
    expect((await stat(state)).isFile()).toBe(true);

    const second = await w.cli(["--json", "backup"]);
    expect(second.exitCode).toBe(0);
    expect(events(second.stdout).find((e) => e.type === "result")?.["check"]).toBeUndefined();

    await corruptLargestPack(w.repo.url);
    await rm(state);
    const third = await w.cli(["--json", "backup"]);
    expect(third.exitCode).toBe(0);
    const evs = events(third.stdout);
    const result = evs.find((e) => e.type === "result");
    expect(result).toMatchObject({ status: "success", check: { ok: false, mismatches: 1 } });
    expect(String((result?.["check"] as { error?: string }).error)).toContain(big);
    expect(
      evs.some((e) => e.type === "warning" && String(e["message"]).includes("scheduled check")),
    ).toBe(true);
    await expect(stat(state)).rejects.toThrow();
    expect(await leftovers(w)).toEqual([]);
  });
  test("a spot check samples again from unchanged files until N were compared or none are left", async () => {
    await using w = await createWorld();
    const files: string[] = [];
    for (let i = 0; i < 10; i++) {
      const f = join(w.data, `f${i}.txt`);
      await writeFile(f, `file ${i}\n`);
      files.push(f);
    }
    await w.writeConfig(w.basicConfig([w.data]));
    expect((await w.cli(["backup"])).exitCode).toBe(0);
    // Half the files change after the backup: a sample of 5 holds the 5 unchanged ones only by
    // chance (1 in 252), but they are exactly what must be compared.
    for (const f of files.slice(0, 5)) await writeFile(f, "changed since the backup\n");
    const r = await w.cli(["--json", "check", "--spot", "5"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const spot = (JSON.parse(r.stdout) as CheckDoc).spot[0];
    expect(spot?.matched).toBe(5);
    expect(spot?.mismatches).toEqual([]);
    expect(spot?.sampled).toBe(5 + (spot?.changed.length ?? 0));
    expect(spot?.resampled).toBe(spot?.changed.length);
    if ((spot?.changed.length ?? 0) > 0)
      expect(r.stderr).toMatch(
        /spot check of plan p in r: (every sampled file \(\d\)|\d of 5 sampled files) changed since the backup; sampling again from unchanged files/,
      );

    // Only one file is left as the backup recorded it: it is compared, and the check says so.
    for (const f of files.slice(5, 9)) await writeFile(f, "changed since the backup\n");
    const few = await w.cli(["--json", "check", "--spot", "3"]);
    expect(few.exitCode, few.stderr).toBe(0);
    const s2 = (JSON.parse(few.stdout) as CheckDoc).spot[0];
    expect(s2?.matched).toBe(1);
    expect(s2?.warnings).toContain(
      "spot check of plan p in r: only 1 of 3 files could be compared; the others changed since the backup",
    );
    expect(few.stderr).toContain("sampling again from unchanged files");

    // Nothing left unchanged: the spot check verified nothing and says so.
    await writeFile(files[9] ?? "", "changed since the backup\n");
    const none = await w.cli(["check", "--spot", "2"]);
    expect(none.exitCode, none.stderr).toBe(0);
    expect(none.stderr).toContain(
      "spot check of plan p in r: verified nothing: every file of the backup changed since it was made",
    );
    expect(await leftovers(w)).toEqual([]);
  });
});
