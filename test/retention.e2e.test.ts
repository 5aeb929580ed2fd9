import { readdir, readFile, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, test } from "vitest";
import { run } from "../src/exec/index.js";
import { createWorld, leftovers, type World } from "./fixtures/cli.js";
import { TEST_PASSWORD } from "./fixtures/restic.js";

interface JsonEvent {
  type: string;
  [k: string]: unknown;
}

interface Retained {
  short_id: string;
  time: string;
  reasons: string[];
}

interface PruneDoc {
  dry_run: boolean;
  ok: boolean;
  plans: {
    plan: string;
    repositories: {
      repository: string;
      host: string;
      keep: Retained[];
      remove: Retained[];
      pruned: boolean;
      skipped?: string;
    }[];
    local: {
      keep_runs: number;
      keep: { path: string; run_id: string }[];
      remove: { path: string; run_id: string }[];
      errors: string[];
    };
  }[];
}

// restic reads --time and buckets days in local time: pin it so the hand-worked sets hold anywhere.
const UTC = { env: { TZ: "UTC" } };

function events(stdout: string): JsonEvent[] {
  return stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as JsonEvent);
}

/** A backup made directly with restic at a faked time, as if by an earlier run of some plan on some host. */
async function fakeBackup(w: World, time: string, plan: string, host: string): Promise<void> {
  await writeFile(join(w.data, "stamp.txt"), `${plan} ${host} ${time}\n`);
  await run(
    "restic",
    [
      "-r",
      w.repo.url,
      "--no-cache",
      "backup",
      "--time",
      time,
      "--tag",
      `plan:${plan}`,
      "--host",
      host,
      w.data,
    ],
    {
      env: { RESTIC_PASSWORD: TEST_PASSWORD, TZ: "UTC" },
    },
  );
}

async function backupsOf(w: World): Promise<{ time: string; plan: string; host: string }[]> {
  return (await w.repo.snapshots())
    .map((s) => ({
      time: new Date(s.time).toISOString(),
      plan: (s.tags ?? []).join(","),
      host: s.hostname,
    }))
    .sort((a, b) => a.time.localeCompare(b.time) || a.plan.localeCompare(b.plan));
}

const iso = (t: string): string => `${t.replace(" ", "T")}.000Z`;

describe("retention (real restic, real btrfs)", () => {
  test("prune keeps exactly the rules' set of the plan's own backups; --dry-run changes nothing and names the rule", async () => {
    await using w = await createWorld();
    await w.writeConfig(
      w.basicConfig(
        [w.data],
        [
          'host = "h1"',
          "[plans.p.retention]",
          "keep_last = 2",
          "keep_daily = 3",
          "keep_weekly = 3",
        ].join("\n"),
      ),
    );
    // 2024-01-01 is a Monday: ISO week 1 is 01-01..01-07, week 2 01-08..01-14, week 3 01-15..01-21.
    const mine = [
      "2024-01-01 10:00:00",
      "2024-01-01 18:00:00",
      "2024-01-02 10:00:00",
      "2024-01-03 10:00:00",
      "2024-01-08 10:00:00",
      "2024-01-09 10:00:00",
      "2024-01-15 09:00:00",
      "2024-01-15 12:00:00",
      "2024-01-16 10:00:00",
    ];
    for (const t of mine) await fakeBackup(w, t, "p", "h1");
    await fakeBackup(w, "2023-01-01 10:00:00", "q", "h1");
    await fakeBackup(w, "2023-01-02 10:00:00", "q", "h1");
    await fakeBackup(w, "2023-01-01 10:00:00", "p", "h2");
    const before = await backupsOf(w);

    // Newest first — last 2: 01-16, 01-15 12:00. Daily 3: 01-16, 01-15 12:00 (09:00 is the
    // same day), 01-09. Weekly 3: 01-16 (week 3), 01-09 (week 2), 01-03 (week 1).
    const expectedKeep = [
      { time: iso("2024-01-03 10:00:00"), reasons: ["weekly snapshot"] },
      { time: iso("2024-01-09 10:00:00"), reasons: ["daily snapshot", "weekly snapshot"] },
      { time: iso("2024-01-15 12:00:00"), reasons: ["last snapshot", "daily snapshot"] },
      {
        time: iso("2024-01-16 10:00:00"),
        reasons: ["last snapshot", "daily snapshot", "weekly snapshot"],
      },
    ];
    const expectedRemove = [
      "2024-01-01 10:00:00",
      "2024-01-01 18:00:00",
      "2024-01-02 10:00:00",
      "2024-01-08 10:00:00",
      "2024-01-15 09:00:00",
    ].map(iso);

    const dry = await w.cli(["--json", "prune", "--dry-run"], UTC);
    expect(dry.stderr).toBe("");
    expect(dry.exitCode).toBe(0);
    const dryDoc = JSON.parse(dry.stdout) as PruneDoc;
    expect(dryDoc).toMatchObject({ dry_run: true, ok: true });
    const repo = dryDoc.plans[0]?.repositories[0];
    expect(repo).toMatchObject({ repository: "r", host: "h1", pruned: false });
    expect(repo?.keep.map((k) => ({ time: k.time, reasons: [...k.reasons].sort() }))).toEqual(
      expectedKeep.map((k) => ({ ...k, reasons: [...k.reasons].sort() })),
    );
    expect(repo?.remove.map((k) => k.time)).toEqual(expectedRemove);
    expect(await backupsOf(w)).toEqual(before);

    const text = await w.cli(["prune", "--dry-run"], UTC);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toContain("would remove 5");
    expect(text.stdout).toMatch(/keep\s+\w{8}\s+2024-01-03 10:00:00\s+weekly snapshot/);
    expect(await backupsOf(w)).toEqual(before);

    const real = await w.cli(["--json", "prune"], UTC);
    expect(real.stderr).toBe("");
    expect(real.exitCode).toBe(0);
    const doc = JSON.parse(real.stdout) as PruneDoc;
    expect(doc.plans[0]?.repositories[0]?.pruned).toBe(true);
    expect(await backupsOf(w)).toEqual(
      [
        ...expectedKeep.map((k) => ({ time: k.time, plan: "plan:p", host: "h1" })),
        { time: iso("2023-01-01 10:00:00"), plan: "plan:q", host: "h1" },
        { time: iso("2023-01-02 10:00:00"), plan: "plan:q", host: "h1" },
        { time: iso("2023-01-01 10:00:00"), plan: "plan:p", host: "h2" },
      ].sort((a, b) => a.time.localeCompare(b.time) || a.plan.localeCompare(b.plan)),
    );
    await w.repo.restic(["check"]);

    const wrong = join(w.dir, "wrong.pass");
    await writeFile(wrong, "not the password\n", { mode: 0o600 });
    await w.writeConfig(
      w
        .basicConfig([w.data], ['host = "h1"', "[plans.p.retention]", "keep_last = 1"].join("\n"))
        .replace(w.repo.passwordFile, wrong),
    );
    const denied = await w.cli(["prune"], UTC);
    expect(denied.exitCode).toBe(2);
    expect(denied.stderr).toMatch(/wrong password/);
    expect((await backupsOf(w)).length).toBe(7);
    expect(await leftovers(w)).toEqual([]);
  });

  test("a backup whose retention fails still succeeds, with a warning and the error in the result", async () => {
    await using w = await createWorld();
    await w.writeConfig(
      w.basicConfig([w.data], ['host = "h1"', "[plans.p.retention]", "keep_last = 1"].join("\n")),
    );
    await fakeBackup(w, "2024-01-01 10:00:00", "p", "h1");
    // A live restic elsewhere holds a shared lock: backups may run, forget (exclusive) may not.
    const holder = new AbortController();
    const holding = run(
      "restic",
      [
        "-r",
        w.repo.url,
        "--no-cache",
        "backup",
        "--stdin",
        "--stdin-filename",
        "held",
        "--host",
        "other",
      ],
      {
        env: { RESTIC_PASSWORD: TEST_PASSWORD },
        stdin: new PassThrough(),
        signal: holder.signal,
        killSignal: "SIGINT",
        reject: false,
      },
    );
    try {
      for (
        let i = 0;
        i < 100 && (await w.repo.restic(["list", "locks", "--no-lock"])).trim() === "";
        i++
      )
        await sleep(100);
      expect((await w.repo.restic(["list", "locks", "--no-lock"])).trim()).not.toBe("");

      const r = await w.cli(["--json", "backup"], UTC);
      expect(r.exitCode).toBe(0);
      const evs = events(r.stdout);
      const result = evs.find((e) => e.type === "result");
      expect(result).toMatchObject({
        status: "success",
        retention: { removed: 0, error: expect.stringMatching(/locked/) as unknown },
      });
      expect(
        evs.some((e) => e.type === "warning" && /retention failed/.test(String(e["message"]))),
      ).toBe(true);
      expect((await backupsOf(w)).filter((b) => b.plan === "plan:p")).toHaveLength(2);
    } finally {
      holder.abort();
      await holding;
    }
    const again = await w.cli(["--json", "prune"], UTC);
    expect(again.exitCode).toBe(0);
    expect((await backupsOf(w)).filter((b) => b.plan === "plan:p")).toHaveLength(1);
    expect(await leftovers(w)).toEqual([]);
  });

  test("the run's snapshot is removed while retention runs, not after it", async () => {
    await using w = await createWorld();
    // restic, except that `forget` first waits for the run's snapshot to be gone: a handshake
    // on the snapshot directory (inotify), bounded so that a run that removes it only after
    // retention fails the forget instead of hanging.
    const waiter = join(w.dir, "wait-gone.mjs");
    await writeFile(
      waiter,
      `import { existsSync, readdirSync, watch } from "node:fs";
       const dir = process.argv[2];
       const gone = () => !existsSync(dir) || !readdirSync(dir).some((n) => n.startsWith("snapback@"));
       if (!gone()) {
         const w = watch(dir);
         const bound = setTimeout(() => process.exit(1), 30_000);
         await new Promise((resolve) => {
           const check = () => { if (gone()) resolve(); };
           w.on("change", check);
           w.on("error", check);
           check();
         });
         w.close();
         clearTimeout(bound);
       }`,
    );
    const marker = join(w.dir, "forget-started-after-removal");
    const gated = join(w.dir, "restic-gated");
    await writeFile(
      gated,
      [
        "#!/bin/sh",
        'for a in "$@"; do',
        '  if [ "$a" = forget ]; then',
        `    node ${waiter} ${join(w.data, ".snapback")} || exit 1`,
        `    touch ${marker}`,
        "  fi",
        "done",
        'exec restic "$@"',
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    await w.writeConfig(
      w.basicConfig(
        [w.data],
        ["[plans.p.retention]", "keep_last = 1"].join("\n"),
        `restic_binary = "${gated}"`,
      ),
    );
    const r = await w.cli(["--json", "backup"], UTC);
    expect(r.exitCode).toBe(0);
    const evs = events(r.stdout);
    expect(evs.filter((e) => e.type === "warning")).toEqual([]);
    expect(evs.find((e) => e.type === "result")).toMatchObject({
      status: "success",
      retention: { removed: 0 },
    });
    expect(existsSync(marker)).toBe(true);
    expect(await leftovers(w)).toEqual([]);
  });

  test("local_snapshots keeps the newest N restore points, lists them, and prune trims them", async () => {
    await using w = await createWorld();
    const config = (n: number): string =>
      w.basicConfig([w.data], ["[plans.p.retention]", `local_snapshots = ${n}`].join("\n"));
    await w.writeConfig(config(2));
    const runIds: string[] = [];
    for (let i = 1; i <= 4; i++) {
      await writeFile(join(w.data, "gen.txt"), `${i}\n`);
      const r = await w.cli(["--json", "backup"]);
      expect(r.exitCode).toBe(0);
      const result = events(r.stdout).find((e) => e.type === "result");
      expect(result).toMatchObject({
        status: "success",
        nested: [],
        retention: { removed: 0, kept: 0 },
      });
      runIds.push(String(result?.["run_id"]));
    }
    const snapDir = join(w.data, ".snapback");
    // Nothing else in the directory: it holds exactly the restore points, and goes with the last.
    const kept = async (): Promise<string[]> => (await readdir(snapDir).catch(() => [])).sort();
    expect(await kept()).toEqual(
      runIds
        .slice(2)
        .map((id) => `snapback@p@${id}@1`)
        .sort(),
    );
    // Restore points hold the state of their run, and never end up in a backup.
    expect(
      await readFile(join(snapDir, `snapback@p@${runIds[3] ?? ""}@1`, "gen.txt"), "utf8"),
    ).toBe("4\n");
    expect(await w.repo.restic(["ls", "latest"])).not.toContain(".snapback");

    const listed = await w.cli(["--json", "snapshots", "--local"]);
    expect(listed.exitCode).toBe(0);
    const rows = JSON.parse(listed.stdout) as {
      plan: string;
      source: string;
      name: string;
      path: string;
      run_id: string;
    }[];
    expect(rows.map((r) => [r.plan, r.source, r.run_id, r.path])).toEqual(
      runIds.slice(2).map((id) => ["p", w.data, id, join(snapDir, `snapback@p@${id}@1`)]),
    );
    const table = await w.cli(["snapshots", "--local"]);
    expect(table.stdout).toContain(`snapback@p@${runIds[3] ?? ""}@1`);

    // Marked done in the journal: cleanup does not take them for leftovers of dead runs.
    const cleanup = await w.cli(["--json", "cleanup"]);
    expect(JSON.parse(cleanup.stdout)).toMatchObject({ removed: [], failed: [] });
    expect(await kept()).toHaveLength(2);

    await w.writeConfig(config(1));
    const dry = JSON.parse((await w.cli(["--json", "prune", "--dry-run"])).stdout) as PruneDoc;
    expect(dry.plans[0]?.local.remove.map((k) => k.run_id)).toEqual([runIds[2]]);
    expect(dry.plans[0]?.repositories[0]?.skipped).toMatch(/every backup is kept/);
    expect(await kept()).toHaveLength(2);
    const pruned = await w.cli(["--json", "prune"]);
    expect(pruned.exitCode).toBe(0);
    expect(await kept()).toEqual([`snapback@p@${runIds[3] ?? ""}@1`]);

    await w.writeConfig(config(0));
    expect((await w.cli(["prune"])).exitCode).toBe(0);
    expect(await kept()).toEqual([]);
    expect(existsSync(snapDir), "an empty .snapback is removed with its last restore point").toBe(
      false,
    );
    expect((await w.repo.snapshots()).length).toBe(4);
    expect(await leftovers(w)).toEqual([]);
  });
  test('prune_every = "7d": forget after every backup, prune at most that often (or on `snapback prune`)', async () => {
    await using w = await createWorld();
    await w.writeConfig(
      w.basicConfig(
        [w.data],
        ["[plans.p.retention]", "keep_last = 1", 'prune_every = "7d"'].join("\n"),
      ),
    );
    const statePath = join(w.stateDir, "prune", "r.json");
    const backup = async (): Promise<Record<string, unknown>> => {
      await writeFile(join(w.data, "stamp.txt"), `${Math.random()}\n`);
      const r = await w.cli(["--json", "backup"], UTC);
      expect(r.exitCode, r.stderr).toBe(0);
      const result = events(r.stdout).find((e) => e.type === "result");
      return (result?.["retention"] ?? {}) as Record<string, unknown>;
    };
    const pruneState = async (): Promise<{ last_prune?: string; pending: boolean }> =>
      JSON.parse(await readFile(statePath, "utf8")) as { last_prune?: string; pending: boolean };

    // Nothing forgotten: nothing to prune.
    expect(await backup()).toMatchObject({ removed: 0, pruned: false });
    // The first backup that forgets something prunes: the repository was never pruned.
    expect(await backup()).toMatchObject({ removed: 1, pruned: true });
    const first = await pruneState();
    expect(first.pending).toBe(false);
    expect(Number.isNaN(Date.parse(first.last_prune ?? ""))).toBe(false);
    // Within 7 days of that prune: forget runs, prune waits and says until when.
    const deferred = await backup();
    expect(deferred).toMatchObject({ removed: 1, pruned: false });
    expect(String(deferred["prune_deferred"])).toMatch(
      new RegExp(
        `^r: prune_every = "7d": last prune ${first.last_prune ?? ""}, next after \\d{4}-`,
      ),
    );
    expect(await pruneState()).toEqual({ last_prune: first.last_prune, pending: true });
    expect(await backupsOf(w)).toHaveLength(1);

    // `snapback prune` is asked for explicitly: it frees what the deferred forget left.
    const p = await w.cli(["--json", "prune"], UTC);
    expect(p.exitCode, p.stderr).toBe(0);
    const doc = JSON.parse(p.stdout) as PruneDoc;
    expect(doc.plans[0]?.repositories[0]).toMatchObject({ remove: [], pruned: true });
    expect((await pruneState()).pending).toBe(false);

    // Once the last prune is older than prune_every, the next backup that forgets prunes.
    expect(await backup()).toMatchObject({ removed: 1, pruned: false });
    const old = new Date(Date.now() - 8 * 86_400_000).toISOString();
    await writeFile(statePath, JSON.stringify({ last_prune: old, pending: true }));
    expect(await backup()).toMatchObject({ removed: 1, pruned: true });
    expect((await pruneState()).pending).toBe(false);
    expect(await leftovers(w)).toEqual([]);
  });
});
