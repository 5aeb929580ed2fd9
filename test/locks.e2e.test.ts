import { spawn } from "node:child_process";
import { access, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { run } from "../src/exec/index.js";
import { CLI, createWorld, leftovers, type World } from "./fixtures/cli.js";
import { TEST_PASSWORD } from "./fixtures/restic.js";

interface Running extends AsyncDisposable {
  pid: number;
  stderr(): string;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Starts the CLI in the background; dispose interrupts it (SIGTERM) if a test failed early. */
function startCli(w: World, args: string[]): Running {
  const child = spawn(process.execPath, [CLI, "--config", w.configPath, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
  return {
    pid: child.pid ?? 0,
    stderr: () => stderr,
    done,
    async [Symbol.asyncDispose]() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await done;
    },
  };
}

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const exists = (p: string): Promise<boolean> =>
  access(p).then(
    () => true,
    () => false,
  );

/**
 * A `before` hook that says it is running (READY) and then blocks until the test opens the
 * gate: the run holds its plan and repository locks for exactly as long as the test wants.
 */
function gateHook(dir: string): string {
  return [
    "[[plans.PLAN.hooks]]",
    'when = "before"',
    `shell = "touch ${join(dir, "ready")}; while [ ! -e ${join(dir, "gate")} ] && [ -d ${dir} ]; do sleep 0.05; done"`,
  ].join("\n");
}

function twoPlanConfig(w: World, gateDir: string): string {
  return [
    `state_dir = "${w.stateDir}"`,
    "[repositories.r]",
    'engine = "restic"',
    `url = "${w.repo.url}"`,
    `password_file = "${w.repo.passwordFile}"`,
    "[plans.a]",
    `sources = [${JSON.stringify(w.data)}]`,
    'repositories = ["r"]',
    gateHook(gateDir).replace("PLAN", "a"),
    "[plans.b]",
    `sources = [${JSON.stringify(w.data)}]`,
    'repositories = ["r"]',
    "",
  ].join("\n");
}

async function resticLockIds(w: World): Promise<string[]> {
  return (await w.repo.restic(["list", "locks", "--no-lock"])).split("\n").filter(Boolean);
}

/**
 * Makes restic itself write an exclusive lock into the repository and then dies by SIGKILL,
 * leaving that lock behind.
 */
async function leaveResticLock(w: World, host?: string): Promise<{ id: string; pid: number }> {
  await using held = await holdResticLock(w, host);
  await held.kill();
  return { id: held.id, pid: held.pid };
}

interface HeldLock extends AsyncDisposable {
  id: string;
  pid: number;
  /** SIGKILLs the holder: its lock stays behind. */
  kill(): Promise<void>;
}

/**
 * A live restic process holding an exclusive lock: `key passwd` locks exclusively, then blocks
 * opening a FIFO as its new-password file. With `host`, restic runs in its own UTS namespace
 * under that host name.
 */
async function holdResticLock(w: World, host?: string): Promise<HeldLock> {
  const dir = await mkdtemp(join(tmpdir(), "snapback-test-lock-"));
  const fifo = join(dir, "fifo");
  const restic = [
    "restic",
    "-r",
    w.repo.url,
    "--no-cache",
    "key",
    "passwd",
    `--new-password-file=${fifo}`,
  ];
  const argv =
    host === undefined
      ? restic
      : ["unshare", "--uts", "sh", "-c", `hostname ${host} && exec "$@"`, "sh", ...restic];
  const [file = "", ...args] = argv;
  let kill = async (): Promise<void> => {
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await run("mkfifo", [fifo]);
    const before = await readdir(join(w.repo.url, "locks"));
    const child = spawn(file, args, {
      stdio: "ignore",
      env: { ...process.env, RESTIC_PASSWORD: TEST_PASSWORD },
    });
    const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
    kill = async () => {
      child.kill("SIGKILL");
      await exited;
      await rm(dir, { recursive: true, force: true });
    };
    let id: string | undefined;
    await until("restic's lock", async () => {
      // restic writes "<id>-tmp-<n>" first and renames it when complete.
      id = (await readdir(join(w.repo.url, "locks"))).find(
        (f) => /^[0-9a-f]{64}$/.test(f) && !before.includes(f),
      );
      return id !== undefined;
    });
    return { id: id ?? "", pid: child.pid ?? 0, kill, [Symbol.asyncDispose]: kill };
  } catch (e) {
    await kill();
    throw e;
  }
}

describe("locks", () => {
  test("two plans sharing a repository: the second waits for the first, both succeed", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "shared\n");
    await w.writeConfig(twoPlanConfig(w, w.dir));
    await using a = startCli(w, ["backup", "a"]);
    await until("plan a in its before hook", () => exists(join(w.dir, "ready")));
    await using b = startCli(w, ["backup", "b"]);
    await until("plan b to wait", () => b.stderr().includes("waiting for"));
    expect(b.stderr()).toContain(`waiting for plan a (pid ${a.pid}) to finish with repository r`);
    // While a holds the repository, b has not backed anything up.
    expect(await w.repo.snapshots()).toEqual([]);
    await writeFile(join(w.dir, "gate"), "");
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(0);
    const tags = (await w.repo.snapshots()).flatMap((s) => s.tags ?? []).sort();
    expect(tags).toEqual(["plan:a", "plan:b"]);
    expect(await readdir(join(w.stateDir, "locks"))).toEqual([]);
    expect(await leftovers(w)).toEqual([]);
  });

  test("backup --wait: gives up with exit 4 after DURATION, or runs once the plan is free", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x\n");
    await w.writeConfig(w.basicConfig([w.data], gateHook(w.dir).replace("PLAN", "p")));
    await using first = startCli(w, ["backup"]);
    await until("the first run in its before hook", () => exists(join(w.dir, "ready")));

    const impatient = await w.cli(["backup", "--wait", "1s"]);
    expect(impatient.exitCode).toBe(4);
    expect(impatient.stderr).toMatch(
      new RegExp(
        `plan "p" is locked by another snapback run \\(pid ${first.pid}, since [^)]+\\); gave up after waiting 1s`,
      ),
    );

    const bad = await w.cli(["backup", "--wait", "soon"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--wait: "soon" is not a duration');

    await using patient = startCli(w, ["backup", "--wait", "10m"]);
    await until("the second run to wait", () =>
      patient.stderr().includes("waiting for it to finish"),
    );
    expect(patient.stderr()).toContain(`plan "p" is running (pid ${first.pid}`);
    await writeFile(join(w.dir, "gate"), "");
    const [r1, r2] = await Promise.all([first.done, patient.done]);
    expect(r1.code, r1.stderr).toBe(0);
    expect(r2.code, r2.stderr).toBe(0);
    expect(await w.repo.snapshots()).toHaveLength(2);
    expect(await leftovers(w)).toEqual([]);
  });

  test("a stale exclusive restic lock of a dead process on this host is removed with a message", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x\n");
    await w.writeConfig(w.basicConfig([w.data]));
    const lock = await leaveResticLock(w);
    // Left alone, this lock makes restic refuse the backup.
    const refused = await run(
      "restic",
      ["-r", w.repo.url, "--no-cache", "backup", "/etc/hostname"],
      { env: { RESTIC_PASSWORD: TEST_PASSWORD }, reject: false },
    );
    expect(refused.stderr).toContain(`repository is already locked exclusively by PID ${lock.pid}`);

    const r = await w.cli(["backup"]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      `repository "r": removed a stale restic lock (exclusive) of pid ${lock.pid} on host ${hostname()} (user root), since`,
    );
    expect(r.stderr).toContain("its process is gone");
    expect(await resticLockIds(w)).toEqual([]);
    expect(await w.repo.snapshots()).toHaveLength(1);
    expect(await leftovers(w)).toEqual([]);
  });

  test("a lock of another host is never removed: exit 4 naming the host, pid and time", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x\n");
    await w.writeConfig(w.basicConfig([w.data]));
    const lock = await leaveResticLock(w, "other-host");

    const r = await w.cli(["backup"]);
    expect(r.exitCode).toBe(4);
    expect(r.stderr).toMatch(
      new RegExp(
        `repository "r" is locked exclusively by pid ${lock.pid} on host other-host \\(user root\\), since \\d{4}-\\d\\d-\\d\\dT`,
      ),
    );
    expect(r.stderr).not.toMatch(/removed a stale restic lock/);
    expect(r.stderr).toContain("snapback unlock --repository r --force");
    expect(await resticLockIds(w)).toEqual([lock.id]);
    expect(await w.repo.restic(["snapshots", "--no-lock", "--json"])).toMatch(/^\[\]\s*$/);
    expect(await leftovers(w)).toEqual([]);
  });
  test("a dead restic lock of this host blocks neither prune, nor check, nor snapshots", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x\n");
    await w.writeConfig(w.basicConfig([w.data], "[plans.p.retention]\nkeep_last = 1"));
    expect((await w.cli(["backup"])).exitCode).toBe(0);
    for (const command of [["prune"], ["check"], ["snapshots"], ["check", "--spot", "1"]]) {
      const lock = await leaveResticLock(w);
      const r = await w.cli(command);
      expect(r.exitCode, `${command.join(" ")}: ${r.stderr}`).toBe(0);
      expect(r.stderr).toContain(
        `repository "r": removed a stale restic lock (exclusive) of pid ${lock.pid} on host ${hostname()} (user root), since`,
      );
      expect(await resticLockIds(w)).toEqual([]);
    }
    expect(await leftovers(w)).toEqual([]);
  });

  test("unlock: removes dead locks; a live or foreign lock only with --force", async () => {
    await using w = await createWorld();
    await w.writeConfig(w.basicConfig([w.data]));

    const bad = await w.cli(["unlock", "--repository", "nope"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--repository "nope" is not a configured repository');

    const empty = await w.cli(["unlock"]);
    expect(empty.exitCode, empty.stderr).toBe(0);
    expect(empty.stdout).toBe("repository r: no locks\n");

    const dead = await leaveResticLock(w);
    const r1 = await w.cli(["unlock", "p"]);
    expect(r1.exitCode, r1.stderr).toBe(0);
    expect(r1.stdout).toContain(
      `repository r: removed lock ${dead.id.slice(0, 8)} (exclusive) of pid ${dead.pid} on host ${hostname()} (user root), since`,
    );
    expect(r1.stdout).toContain(": its process is gone");
    expect(await resticLockIds(w)).toEqual([]);

    const foreign = await leaveResticLock(w, "other-host");
    const r2 = await w.cli(["--json", "unlock"]);
    expect(r2.exitCode).toBe(4);
    const doc = JSON.parse(r2.stdout) as {
      ok: boolean;
      repositories: {
        repository: string;
        removed: unknown[];
        remaining: { id: string; hostname: string; why_kept: string }[];
      }[];
    };
    expect(doc.ok).toBe(false);
    expect(doc.repositories[0]?.removed).toEqual([]);
    expect(doc.repositories[0]?.remaining.map((l) => [l.id, l.hostname])).toEqual([
      [foreign.id, "other-host"],
    ]);
    expect(doc.repositories[0]?.remaining[0]?.why_kept).toMatch(/another host \(other-host\)/);
    expect(await resticLockIds(w)).toEqual([foreign.id]);
    const r3 = await w.cli(["unlock", "--repository", "r", "--force"]);
    expect(r3.exitCode, r3.stderr).toBe(0);
    expect(r3.stdout).toContain(
      `removed lock ${foreign.id.slice(0, 8)} (exclusive) of pid ${foreign.pid} on host other-host`,
    );
    expect(await resticLockIds(w)).toEqual([]);

    await using live = await holdResticLock(w);
    const r4 = await w.cli(["unlock"]);
    expect(r4.exitCode).toBe(4);
    expect(r4.stdout).toContain(
      `repository r: kept lock ${live.id.slice(0, 8)} (exclusive) of pid ${live.pid} on host ${hostname()}`,
    );
    expect(r4.stdout).toContain("its process is running on this host");
    expect(r4.stdout).toContain("snapback unlock --repository r --force");
    expect(await resticLockIds(w)).toEqual([live.id]);
    const r5 = await w.cli(["unlock", "--force"]);
    expect(r5.exitCode, r5.stderr).toBe(0);
    expect(await resticLockIds(w)).toEqual([]);
  });

  test("unlock --force never pulls the lock from under a running snapback backup", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x\n");
    await w.writeConfig(w.basicConfig([w.data], gateHook(w.dir).replace("PLAN", "p")));
    await using running = startCli(w, ["backup"]);
    await until("the run in its before hook", () => exists(join(w.dir, "ready")));
    const r = await w.cli(["unlock", "--force"]);
    expect(r.exitCode).toBe(4);
    expect(r.stderr).toContain(
      `repository "r" is locked by another snapback run (pid ${running.pid}`,
    );
    await writeFile(join(w.dir, "gate"), "");
    expect((await running.done).code).toBe(0);
    expect(await leftovers(w)).toEqual([]);
  });
  test("cleanup: removes a dead restic lock, skips a repository not created yet, names one it cannot open", async () => {
    await using w = await createWorld();
    const fresh = join(w.dir, "not-yet");
    await w.writeConfig(
      w.basicConfig(
        [w.data],
        "",
        [
          "[repositories.later]",
          'engine = "restic"',
          `url = "${fresh}"`,
          `password_file = "${w.repo.passwordFile}"`,
          "init = true",
        ].join("\n"),
      ),
    );
    const dead = await leaveResticLock(w);
    const dry = await w.cli(["cleanup", "--dry-run"]);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(
      new RegExp(
        `^would remove stale restic lock ${dead.id.slice(0, 8)} \\(exclusive\\) of pid ${dead.pid} on host ${hostname()} \\(user root\\), since \\S+ in repository r: its process is gone\n$`,
      ),
    );
    expect(await resticLockIds(w)).toEqual([dead.id]);
    const r = await w.cli(["cleanup"]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(`removed stale restic lock ${dead.id.slice(0, 8)}`);
    expect(await resticLockIds(w)).toEqual([]);
    expect(await exists(fresh)).toBe(false);

    await w.writeConfig(
      w.basicConfig([w.data]).replace(w.repo.passwordFile, join(w.dir, "missing.pass")),
    );
    const broken = await w.cli(["cleanup"]);
    expect(broken.exitCode).toBe(1);
    expect(broken.stderr).toContain('repository "r": could not look at its restic locks:');
    expect(broken.stderr).toContain("missing.pass");
  });
});
