import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { which } from "../src/exec/index.js";
import { createWorld } from "./fixtures/cli.js";

/** A PATH holding only the named commands, so that the others are "missing". */
async function narrowPath(commands: string[]): Promise<AsyncDisposable & { dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), "snapback-test-path-"));
  for (const c of commands) {
    const real = await which(c);
    if (!real) throw new Error(`${c} is needed on this machine for the test`);
    await symlink(real, join(dir, c));
  }
  return { dir, [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }) };
}

describe("doctor", () => {
  test("names the Debian packages for everything the config needs and this machine lacks", async () => {
    await using w = await createWorld();
    await using path = await narrowPath([
      "sh",
      "restic",
      "btrfs",
      "unshare",
      "setpriv",
      "findmnt",
      "mount",
    ]);
    await w.writeConfig(
      [
        w.basicConfig([w.data]),
        "[[plans.p.databases]]",
        'type = "sqlite"',
        'name = "app"',
        `path = "${join(w.data, "app.db")}"`,
        "[repositories.nas]",
        'engine = "restic"',
        'url = "sftp:backup@nas:/srv/restic"',
        `password_file = "${w.repo.passwordFile}"`,
        "[plans.offsite]",
        `sources = ["${w.data}"]`,
        'repositories = ["nas"]',
      ].join("\n"),
    );
    const r = await w.cli(["doctor"], { env: { ...process.env, PATH: path.dir } });
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/^FAIL ssh: not found \(repository nas is reached over sftp\)$/m);
    expect(r.stdout).toMatch(/^FAIL plans\.p\.databases\[0\] \(app\): sqlite3 is not on PATH/m);
    expect(r.stdout).toMatch(
      /^to install everything missing: apt-get install sqlite3 openssh-client$/m,
    );

    const json = await w.cli(["--json", "doctor"], { env: { ...process.env, PATH: path.dir } });
    expect((JSON.parse(json.stdout) as { apt: string }).apt).toBe(
      "apt-get install sqlite3 openssh-client",
    );
  });
});
