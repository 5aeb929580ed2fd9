import { run } from "../src/exec/index.js";

/**
 * Tests run as root against real kernels features. Before and after the whole suite, nothing
 * of ours may be mounted or attached: a leak fails the run here even if every test passed.
 */
export async function setup(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("the test suite must run as root (real btrfs, mounts)");
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
  const leaks = [...mounts.map((m) => `mount: ${m}`), ...loops.map((l) => `loop: ${l}`)];
  if (leaks.length > 0) throw new Error(`the test suite leaked:\n${leaks.join("\n")}`);
}
