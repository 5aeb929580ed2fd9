import { chmod, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { which } from "../src/exec/index.js";
import { HISTORY_FILE } from "../src/history/index.js";
import { snapback } from "./fixtures/cli.js";
import { createTestRepo, TEST_PASSWORD, type TestRepo } from "./fixtures/restic.js";
import { tempDir, type TempDir } from "./fixtures/tempdir.js";

/**
 * Two plans over plain directories (no snapshot needed to inspect backups) and two real
 * restic repositories: plan `p` backs up to both, plan `q` to the second only.
 */
interface Setup extends AsyncDisposable {
  dir: TempDir;
  r1: TestRepo;
  r2: TestRepo;
  src: string;
  stateDir: string;
  config: string;
  cli(args: string[], env?: NodeJS.ProcessEnv): ReturnType<typeof snapback>;
}

async function setup(): Promise<Setup> {
  // Released in reverse order, also when setup fails halfway.
  const made: AsyncDisposable[] = [];
  const release = async (): Promise<void> => {
    for (const d of made.reverse()) await d[Symbol.asyncDispose]();
  };
  try {
    return await build(made, release);
  } catch (e) {
    await release();
    throw e;
  }
}

async function build(made: AsyncDisposable[], release: () => Promise<void>): Promise<Setup> {
  const dir = await tempDir("inspect");
  made.push(dir);
  const r1 = await createTestRepo();
  made.push(r1);
  const r2 = await createTestRepo();
  made.push(r2);
  const src = join(dir.path, "src");
  const other = join(dir.path, "other");
  await mkdir(src);
  await mkdir(other);
  await writeFile(join(other, "o"), "other");
  const stateDir = join(dir.path, "state");
  const config = join(dir.path, "snapback.toml");
  await writeFile(
    config,
    [
      `state_dir = "${stateDir}"`,
      `[repositories.r1]\nengine = "restic"\nurl = "${r1.url}"\npassword_file = "${r1.passwordFile}"`,
      // A tuning key: every restic command for r2 gets its flag, `snapback restic` included.
      `[repositories.r2]\nengine = "restic"\nurl = "${r2.url}"\npassword_file = "${r2.passwordFile}"\nlimit_download = 4096`,
      `[plans.p]\nsources = ["${src}"]\nrepositories = ["r1", "r2"]\nsnapshot = "none"\nschedule = "daily"`,
      `[plans.q]\nsources = ["${other}"]\nrepositories = ["r2"]\nsnapshot = "none"`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  return {
    dir,
    r1,
    r2,
    src,
    stateDir,
    config,
    cli: (args, env) => snapback(["--config", config, ...args], env ? { env } : {}),
    [Symbol.asyncDispose]: release,
  };
}

async function ids(s: Setup, plan: string, repo: string): Promise<string[]> {
  const r = await s.cli(["--json", "snapshots", plan, "--repository", repo]);
  expect(r.exitCode).toBe(0);
  return (JSON.parse(r.stdout) as { id: string }[]).map((x) => x.id);
}

/** Two backups of p: the first has `a`, the second `b` (and a changed `c`). */
async function twoBackups(s: Setup): Promise<[string, string]> {
  await writeFile(join(s.src, "a"), "a");
  await writeFile(join(s.src, "c"), "1");
  expect((await s.cli(["backup", "p"])).exitCode).toBe(0);
  await rm(join(s.src, "a"));
  await writeFile(join(s.src, "b"), "b");
  await writeFile(join(s.src, "c"), "22");
  expect((await s.cli(["backup", "p"])).exitCode).toBe(0);
  const [first, second] = await ids(s, "p", "r1");
  if (!first || !second) throw new Error("expected two backups");
  return [first, second];
}

describe("inspecting backups from the CLI", () => {
  test("plans lists sources, repositories, schedule and the last result; --names for scripts", async () => {
    await using s = await setup();
    const before = await s.cli(["--json", "plans"]);
    expect(before.exitCode).toBe(0);
    expect(JSON.parse(before.stdout)).toEqual([
      {
        name: "p",
        sources: [s.src],
        repositories: ["r1", "r2"],
        schedule: "daily",
        last_run: null,
      },
      {
        name: "q",
        sources: [join(s.dir.path, "other")],
        repositories: ["r2"],
        schedule: null,
        last_run: null,
      },
    ]);
    // Listing plans creates no state.
    await expect(stat(s.stateDir)).rejects.toThrow();
    expect((await s.cli(["backup", "q"])).exitCode).toBe(0);
    const text = await s.cli(["plans"]);
    expect(text.stdout).toMatch(
      /^q\n {2}sources: +\S+other\n {2}repositories: r2\n {2}schedule: +none\n {2}last run: +success at \d{4}-/m,
    );
    expect(text.stdout).toMatch(/^p\n[\s\S]*last run: +never run/m);
    expect((await s.cli(["plans", "--names"])).stdout).toBe("p\nq\n");
  });

  test("ls, diff, stats and forget work on a plan's own backups", async () => {
    await using s = await setup();
    const [first, second] = await twoBackups(s);

    const ls = await s.cli(["ls", "p"]);
    expect(ls.exitCode).toBe(0);
    expect(ls.stdout).toContain(join(s.src, "b"));
    expect(ls.stdout).not.toContain(join(s.src, "a"));
    const lsOld = await s.cli(["--json", "ls", "p", first.slice(0, 8), join(s.src, "a")]);
    expect(lsOld.exitCode).toBe(0);
    const doc = JSON.parse(lsOld.stdout) as {
      snapshot: { id: string };
      entries: { path: string; type: string; size: number }[];
    };
    expect(doc.snapshot.id).toBe(first);
    expect(doc.entries).toEqual([
      expect.objectContaining({ path: join(s.src, "a"), type: "file", size: 1 }),
    ]);
    const missing = await s.cli(["ls", "p", join(s.src, "a")]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stdout).toContain("is not in backup");

    const diff = await s.cli(["diff", "p", first.slice(0, 8), "latest"]);
    expect(diff.exitCode).toBe(0);
    expect(diff.stdout).toContain(`-    ${join(s.src, "a")}`);
    expect(diff.stdout).toContain(`+    ${join(s.src, "b")}`);
    expect(diff.stdout).toContain(`M    ${join(s.src, "c")}`);
    expect(diff.stdout).toContain("1 added, 1 removed, 1 modified");
    const diffJson = JSON.parse((await s.cli(["--json", "diff", "p", first, second])).stdout) as {
      from: string;
      to: string;
      changes: { path: string; modifier: string }[];
    };
    expect(diffJson).toMatchObject({ from: first, to: second });
    expect(diffJson.changes).toContainEqual({ path: join(s.src, "b"), modifier: "+" });
    // An id of another plan is not this plan's backup.
    const [qId] = await (async () => {
      expect((await s.cli(["backup", "q"])).exitCode).toBe(0);
      return ids(s, "q", "r2");
    })();
    const foreign = await s.cli(["diff", "p", qId ?? "", "latest", "--repository", "r2"]);
    expect(foreign.exitCode).toBe(2);
    expect(foreign.stderr).toContain(`has no backup ${qId ?? ""} of plan "p"`);

    const stats = await s.cli(["--json", "stats", "p"]);
    expect(stats.exitCode).toBe(0);
    const rows = JSON.parse(stats.stdout) as {
      repository: string;
      snapshots: number;
      raw_data: number;
    }[];
    expect(rows.map((r) => [r.repository, r.snapshots])).toEqual([
      ["r1", 2],
      ["r2", 2],
    ]);
    expect(rows[0]?.raw_data).toBeGreaterThan(0);
    expect((await s.cli(["stats", "p", "--repository", "r2"])).stdout).toMatch(
      /^p in r2: 2 backups, restore size/,
    );

    // forget: a dry run and a wrong id remove nothing; then exactly the named backup goes.
    const dry = await s.cli(["forget", "p", first.slice(0, 8), "--dry-run"]);
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toContain(`would remove backup ${first.slice(0, 8)}`);
    const wrong = await s.cli(["forget", "p", first.slice(0, 8), "deadbeef"]);
    expect(wrong.exitCode).toBe(2);
    expect(await ids(s, "p", "r1")).toEqual([first, second]);
    const gone = await s.cli(["--json", "forget", "p", first.slice(0, 8)]);
    expect(gone.exitCode).toBe(0);
    expect(JSON.parse(gone.stdout)).toMatchObject({
      plan: "p",
      repository: "r1",
      removed: [{ id: first }],
    });
    expect(await ids(s, "p", "r1")).toEqual([second]);
    expect((await ids(s, "p", "r2")).length).toBe(2);
  });

  test("restic runs against the plan's repository with the password in its environment, never in argv, and passes its exit code", async () => {
    await using s = await setup();
    await writeFile(join(s.src, "a"), "a");
    expect((await s.cli(["backup", "p"])).exitCode).toBe(0);
    // A restic on PATH that records its argv and environment, then runs the real one.
    const real = await which("restic");
    const bin = join(s.dir.path, "bin");
    const log = join(s.dir.path, "restic.log");
    await mkdir(bin);
    await writeFile(
      join(bin, "restic"),
      [
        "#!/bin/sh",
        `printf 'argv: %s\\n' "$*" >> ${log}`,
        `printf 'repo: %s pw: %s\\n' "$RESTIC_REPOSITORY" "$RESTIC_PASSWORD" >> ${log}`,
        'case "$*" in *exit-with-42*) exit 42 ;; esac',
        `exec ${real ?? "restic"} "$@"`,
      ].join("\n"),
    );
    await chmod(join(bin, "restic"), 0o755);
    const env = { PATH: `${bin}:${process.env["PATH"] ?? ""}` };

    const r = await s.cli(["restic", "p", "--", "snapshots", "--json"], env);
    expect(r.exitCode).toBe(0);
    expect((JSON.parse(r.stdout) as { id: string }[]).map((x) => x.id)).toEqual(
      await ids(s, "p", "r1"),
    );
    const second = await s.cli(
      ["restic", "p", "--repository", "r2", "--", "snapshots", "--json"],
      env,
    );
    expect((JSON.parse(second.stdout) as { id: string }[]).map((x) => x.id)).toEqual(
      await ids(s, "p", "r2"),
    );
    expect((await s.cli(["restic", "p", "--", "exit-with-42"], env)).exitCode).toBe(42);
    const calls = await readFile(log, "utf8");
    expect(calls).toContain("argv: snapshots --json\n");
    // The repository's tuning flags apply to the wrapper as to every other restic command.
    expect(calls).toContain("argv: --limit-download=4096 snapshots --json\n");
    expect(calls).toContain(`repo: ${s.r1.url} pw: ${TEST_PASSWORD}`);
    expect(calls).toContain(`repo: ${s.r2.url} pw: ${TEST_PASSWORD}`);
    for (const line of calls.split("\n").filter((l) => l.startsWith("argv:")))
      expect(line).not.toContain(TEST_PASSWORD);

    const noArgs = await s.cli(["restic", "p"]);
    expect(noArgs.exitCode).toBe(2);
    expect(noArgs.stderr).toContain("name the restic command after --");
    const otherRepo = await s.cli(["restic", "q", "--repository", "r1", "--", "snapshots"]);
    expect(otherRepo.exitCode).toBe(2);
    expect(otherRepo.stderr).toContain('plan "q" has no repository "r1"');
  });

  test("SNAPBACK_STATE_DIR and SNAPBACK_LOG_LEVEL override the config and the default", async () => {
    await using s = await setup();
    await writeFile(join(s.src, "a"), "a");
    const elsewhere = join(s.dir.path, "elsewhere");
    const quiet = await s.cli(["backup", "p"], {
      SNAPBACK_STATE_DIR: elsewhere,
      SNAPBACK_LOG_LEVEL: "quiet",
    });
    expect(quiet.exitCode).toBe(0);
    expect((await stat(join(elsewhere, HISTORY_FILE))).isFile()).toBe(true);
    await expect(stat(join(s.stateDir, HISTORY_FILE))).rejects.toThrow();
    const loud = await s.cli(["backup", "p"], { SNAPBACK_STATE_DIR: elsewhere });
    expect(loud.exitCode).toBe(0);
    // Quiet keeps the results on stdout and drops the progress notes on stderr, like --quiet.
    expect(loud.stderr).toContain(`backup p: ${s.src} → r1, r2`);
    expect(quiet.stderr).not.toContain("backup p:");
    expect(quiet.stdout).toContain("p: success");
    expect((await s.cli(["--json", "status"], { SNAPBACK_STATE_DIR: elsewhere })).stdout).toContain(
      '"status":"success"',
    );
    expect((await s.cli(["config", "show"], { SNAPBACK_STATE_DIR: elsewhere })).stdout).toContain(
      `state_dir = "${elsewhere}"`,
    );

    const bad = await s.cli(["status"], { SNAPBACK_LOG_LEVEL: "loud" });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('SNAPBACK_LOG_LEVEL: "loud" is not a log level');
    const relative = await s.cli(["status"], { SNAPBACK_STATE_DIR: "state" });
    expect(relative.exitCode).toBe(2);
    expect(relative.stderr).toContain('SNAPBACK_STATE_DIR: "state" must be an absolute path');
  });
});
