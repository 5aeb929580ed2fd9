import { run } from "../src/exec/index.js";

/**
 * Tests run as root against real kernel features, and the end-to-end ones run the built CLI,
 * so the bundle is rebuilt first. Afterwards nothing of ours may be mounted or attached: a
 * leak fails the run here even if every test passed.
 */
export async function setup(): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new Error("the test suite must run as root (real btrfs, mounts)");
  await run("node", ["scripts/build.mjs"]);
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
    ...mounts.map((m) => `mount: ${m}`),
    ...loops.map((l) => `loop: ${l}`),
    ...zfs.map((z) => `zfs: ${z}`),
  ];
  if (leaks.length > 0) {
    // vitest reports a throwing teardown but still exits 0: set the status ourselves.
    process.exitCode = 1;
    throw new Error(`the test suite leaked:\n${leaks.join("\n")}`);
  }
}
