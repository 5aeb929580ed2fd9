import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { run } from "../src/exec/index.js";
import { CAPABILITIES } from "../src/schedule/hardening.js";
import { CLI, createWorld, leftovers } from "./fixtures/cli.js";
import { sandboxFor, unitSettings } from "./fixtures/unit-sandbox.js";

/** Capability numbers from linux/capability.h, for the CapBnd mask in /proc/self/status. */
const CAP_NUMBER: Record<string, number> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_ADMIN: 21,
  CAP_MKNOD: 27,
};

/**
 * PrivateTmp hides /tmp, where the fixtures put everything: the world lives under /var/lib
 * for this test, as a real installation's state and repositories would.
 */
async function tmpdirOutsideTmp(): Promise<AsyncDisposable & { dir: string }> {
  await mkdir("/var/lib/snapback-tests", { recursive: true });
  const dir = await mkdtemp("/var/lib/snapback-tests/units-");
  const saved = process.env["TMPDIR"];
  process.env["TMPDIR"] = dir;
  return {
    dir,
    async [Symbol.asyncDispose]() {
      if (saved === undefined) delete process.env["TMPDIR"];
      else process.env["TMPDIR"] = saved;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe("the backup unit's sandbox", () => {
  test("a backup runs under the unit's hardening (emulated without systemd as PID 1)", async () => {
    await using tmp = await tmpdirOutsideTmp();
    await using w = await createWorld();
    await writeFile(join(w.data, "hello.txt"), "point in time\n");
    await w.writeConfig(w.basicConfig([w.data], 'schedule = "daily"\ninhibit_sleep = false'));

    const shown = await w.cli(["--json", "schedule", "show"]);
    expect(shown.exitCode).toBe(0);
    const units = JSON.parse(shown.stdout) as { name: string; text: string }[];
    const service = units.find((u) => u.name === "snapback-p.service");
    if (!service) throw new Error(`no service unit in ${shown.stdout}`);
    const settings = unitSettings(service.text);
    expect(settings.get("ExecStart")).toBe(
      `${process.execPath} ${CLI} --config ${w.configPath} backup p`,
    );

    // A checkout below /tmp (CI's may be) must stay visible through PrivateTmp.
    const sandbox = sandboxFor(service.text, {
      carry: [resolve(import.meta.dirname, "..")],
      staging: join(tmp.dir, "staging"),
    });
    // What cannot be reproduced without systemd is named, and is checked by systemd-analyze
    // in src/schedule/units.test.ts.
    console.log(`not emulated: ${sandbox.notEmulated.join(" ")}`);
    expect(sandbox.emulated).toEqual(
      expect.arrayContaining([
        "NoNewPrivileges=yes",
        `CapabilityBoundingSet=${CAPABILITIES.join(" ")}`,
        "ProtectSystem=full",
        "PrivateTmp=yes",
      ]),
    );

    // The sandbox is real: the bounding set, no-new-privs, read-only /usr and a private /tmp.
    await writeFile("/tmp/snapback-test-units-marker", "");
    try {
      const probe = await run(
        sandbox.prefix[0] ?? "unshare",
        [
          ...sandbox.prefix.slice(1),
          "bash",
          "-c",
          "grep -E '^(CapBnd|NoNewPrivs):' /proc/self/status; umask; nice; " +
            "touch /usr/snapback-probe 2>/dev/null && echo usr-writable; " +
            "test -e /tmp/snapback-test-units-marker && echo tmp-shared; true",
        ],
        { reject: false },
      );
      const mask = CAPABILITIES.reduce((m, c) => m | (1n << BigInt(CAP_NUMBER[c] ?? 63)), 0n);
      expect(probe.stdout).toContain(`CapBnd:\t${mask.toString(16).padStart(16, "0")}`);
      expect(probe.stdout).toContain("NoNewPrivs:\t1");
      expect(probe.stdout).toMatch(/^0077$/m);
      expect(probe.stdout).toMatch(/^10$/m);
      expect(probe.stdout).not.toContain("usr-writable");
      expect(probe.stdout).not.toContain("tmp-shared");
    } finally {
      await rm("/tmp/snapback-test-units-marker", { force: true });
    }

    const backup = await run(
      sandbox.prefix[0] ?? "unshare",
      [...sandbox.prefix.slice(1), process.execPath, CLI, "--config", w.configPath, "backup", "p"],
      { reject: false },
    );
    expect(backup.stderr).not.toMatch(/error/i);
    expect(backup.exitCode).toBe(0);
    const snaps = await w.repo.snapshots();
    expect(snaps.map((s) => s.paths)).toEqual([[w.data]]);
    const target = join(tmp.dir, "restore");
    const restore = await w.cli(["restore", "p", "--target", target]);
    expect(restore.exitCode).toBe(0);
    expect(await readFile(join(target, w.data, "hello.txt"), "utf8")).toBe("point in time\n");
    expect(await leftovers(w)).toEqual([]);
  });
});
