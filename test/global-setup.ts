import { readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { run } from "../src/exec/index.js";

/**
 * Processes a test started and did not stop: daemons (snapback serve, dbus-daemon, rest-server,
 * sshd, database servers), browsers and restic. Every test resource lives in a directory named
 * snapback-test-*, which the process's command line names; the CLI under test runs dist/.
 */
async function leftoverProcesses(): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    const argv = cmdline.split("\0").filter(Boolean);
    if (argv.length === 0) continue;
    const comm = (await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "")).trim();
    const text = argv.join(" ");
    // vitest's own workers also name the test files; they are gone by now but never count.
    if (/vitest/.test(text)) continue;
    if (comm === "restic" || /snapback-test-|dist\/snapback\.js/.test(text))
      found.push(`process ${pid}: ${text.slice(0, 200)}`);
  }
  return found;
}

/** Temporary directories of the fixtures (each removes its own on dispose). */
async function leftoverTempDirs(): Promise<string[]> {
  return (await readdir(tmpdir()))
    .filter((name) => name.startsWith("snapback-test-"))
    .map((name) => `temp dir: ${tmpdir()}/${name}`);
}

/**
 * Tests run as root against real kernel features, and the end-to-end ones run the built CLI,
 * so the bundle is rebuilt first. Afterwards nothing of ours may be mounted or attached: a
 * leak fails the run here even if every test passed.
 */
export async function setup(): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new Error("the test suite must run as root (real btrfs, mounts)");
  await run("node", ["scripts/build.mjs"]);
  zfsFuseAtStart = await zfsFuseRunning();
}

/** Whether a zfs-fuse daemon was running before the tests: one they start, they stop. */
let zfsFuseAtStart = true;

async function zfsFuseRunning(): Promise<boolean> {
  // Not a zombie: the daemon forks away from us, and PID 1 here may be slow to reap it.
  const states = ["-r", "R,S,D,T,t,I"];
  return (await run("pgrep", [...states, "-x", "zfs-fuse"], { reject: false })).exitCode === 0;
}

/**
 * The ZFS fixture starts the zfs-fuse daemon when none answers and leaves it for the next ZFS
 * test (a start costs seconds). Once every test pool is gone it is stopped like any other
 * daemon a test started; SIGTERM makes zfs-fuse unmount and export cleanly.
 */
async function stopZfsFuseStartedByTests(): Promise<string[]> {
  if (zfsFuseAtStart || !(await zfsFuseRunning())) return [];
  await run("pkill", ["-TERM", "-x", "zfs-fuse"], { reject: false });
  // pidwait returns once no zfs-fuse is left; timeout(1) bounds a daemon that never exits.
  await run("timeout", ["60", "pidwait", "-x", "zfs-fuse"], { reject: false });
  return (await zfsFuseRunning()) ? ["process: the zfs-fuse daemon the tests started"] : [];
}

export async function teardown(): Promise<void> {
  // Helpers developing in parallel on one machine see each other's mounts; CI never sets this.
  if (process.env["SNAPBACK_TEST_NO_LEAK_CHECK"] === "1") return;
  const mounts = (await run("findmnt", ["-rn", "-o", "TARGET,SOURCE"], { reject: false })).stdout
    .split("\n")
    .filter((l) => /snapback/i.test(l));
  const loops = (await run("losetup", ["-a"], { reject: false })).stdout
    .split("\n")
    .filter((l) => /snapback/i.test(l));
  const zfs = (
    await run("zfs", ["list", "-H", "-t", "all", "-o", "name"], { reject: false }).catch(() => ({
      stdout: "",
    }))
  ).stdout
    .split("\n")
    .filter((l) => /snapback/i.test(l));
  const leaks = [
    ...(await leftoverProcesses()),
    ...(await leftoverTempDirs()),
    ...mounts.map((m) => `mount: ${m}`),
    ...loops.map((l) => `loop: ${l}`),
    ...zfs.map((z) => `zfs: ${z}`),
  ];
  // Only without ZFS leftovers: a pool still there keeps what it holds for the report above.
  if (zfs.length === 0) leaks.push(...(await stopZfsFuseStartedByTests()));
  if (leaks.length > 0) {
    // vitest reports a throwing teardown but still exits 0: set the status ourselves.
    process.exitCode = 1;
    throw new Error(`the test suite leaked:\n${leaks.join("\n")}`);
  }
}
