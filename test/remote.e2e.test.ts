import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { run } from "../src/exec/index.js";
import { createWorld, leftovers, type World } from "./fixtures/cli.js";
import { TEST_PASSWORD } from "./fixtures/restic.js";
import { startRestServer } from "./fixtures/rest-server.js";
import { startSshd } from "./fixtures/sshd.js";

interface JsonEvent {
  type: string;
  [k: string]: unknown;
}

function events(stdout: string): JsonEvent[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as JsonEvent);
}

/** One plan `p` backing up the world's data to repository `r`, whose settings are given. */
function configWith(w: World, repoLines: string[]): string {
  return [
    `state_dir = "${w.stateDir}"`,
    "[repositories.r]",
    'engine = "restic"',
    `password_file = "${w.repo.passwordFile}"`,
    "init = true",
    ...repoLines,
    "[plans.p]",
    `sources = [${JSON.stringify(w.data)}]`,
    'repositories = ["r"]',
    "",
  ].join("\n");
}

async function writeSources(w: World): Promise<void> {
  await writeFile(join(w.data, "notes.txt"), "remote notes\n");
  await run("sh", ["-c", `head -c 3145728 /dev/urandom > "${join(w.data, "blob.bin")}"`]);
}

/** Backs up, lists, restores, compares and prunes: the whole cycle against one remote. */
async function roundTrip(w: World, config: string): Promise<void> {
  await w.writeConfig(config);
  const backup = await w.cli(["--json", "backup"]);
  expect(backup.stderr).not.toMatch(/error/i);
  expect(backup.exitCode).toBe(0);
  const summary = events(backup.stdout).find((e) => e.type === "summary");
  expect(summary).toMatchObject({ repository: "r", files_new: 2 });

  const listed = await w.cli(["--json", "snapshots"]);
  expect(listed.exitCode).toBe(0);
  const snaps = JSON.parse(listed.stdout) as { id: string; paths: string[]; plan: string }[];
  expect(snaps).toHaveLength(1);
  expect(snaps[0]).toMatchObject({ id: summary?.["snapshot_id"], plan: "p", paths: [w.data] });

  const target = join(w.dir, "restored");
  const restored = await w.cli(["restore", "p", "--target", target]);
  expect(restored.exitCode).toBe(0);
  expect(await readFile(join(target, w.data, "notes.txt"), "utf8")).toBe("remote notes\n");
  expect(
    (await readFile(join(target, w.data, "blob.bin"))).equals(
      await readFile(join(w.data, "blob.bin")),
    ),
  ).toBe(true);

  // prune through the same remote: a second backup, then retention keeping only the newest.
  const second = await w.cli(["--json", "backup"]);
  expect(second.exitCode, second.stderr).toBe(0);
  const newest = events(second.stdout).find((e) => e.type === "summary")?.["snapshot_id"];
  await w.writeConfig(`${config}[plans.p.retention]\nkeep_last = 1\n`);
  const pruned = await w.cli(["prune"]);
  expect(pruned.exitCode, pruned.stderr).toBe(0);
  const after = JSON.parse((await w.cli(["--json", "snapshots"])).stdout) as { id: string }[];
  expect(after.map((s) => s.id)).toEqual([newest]);
  expect(await leftovers(w)).toEqual([]);
}

/** Every argv seen while `during` runs, sampled from /proc as fast as it goes. */
async function watchArgv<T>(during: () => Promise<T>): Promise<{ value: T; argvs: Set<string> }> {
  const argvs = new Set<string>();
  let done = false;
  const sampler = (async () => {
    while (!done) {
      for (const pid of await readdir("/proc")) {
        if (!/^\d+$/.test(pid)) continue;
        try {
          const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8");
          if (cmdline) argvs.add(cmdline.replaceAll("\0", " ").trim());
        } catch {
          // The process exited while we looked.
        }
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  try {
    return { value: await during(), argvs };
  } finally {
    done = true;
    await sampler;
  }
}

describe("remote repositories", () => {
  test("sftp against a real sshd: init, backup, snapshots, restore, prune", async () => {
    await using w = await createWorld();
    await using ssh = await startSshd();
    await writeSources(w);
    const repoDir = join(ssh.dir, "repo");
    await roundTrip(
      w,
      configWith(w, [
        `url = "${ssh.url(repoDir)}"`,
        `options = [${JSON.stringify(`sftp.command=${ssh.sftpCommand}`)}]`,
      ]),
    );
    // The repository really is on the server side, written through sftp.
    expect((await readdir(repoDir)).sort()).toEqual(
      expect.arrayContaining(["config", "data", "index", "keys", "snapshots"]),
    );
  });

  test("repository options are checked, and shown by --dry-run as the restic -o flags they become", async () => {
    await using w = await createWorld();
    await w.writeConfig(
      configWith(w, [
        `url = "${w.repo.url}"`,
        'options = ["sftp.command=ssh -p 2222 nas -s sftp", "no-equals-sign"]',
      ]),
    );
    const bad = await w.cli(["config", "validate"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain(
      `repositories.r.options[1]: must look like "backend.option=value"`,
    );
    await w.writeConfig(
      configWith(w, [`url = "${w.repo.url}"`, 'options = ["s3.region=eu-west-1"]']),
    );
    const dry = await w.cli(["backup", "--dry-run"]);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("restic -o s3.region=eu-west-1 backup");
  });

  test("REST server with credentials in the URL: init, backup, snapshots, restore, prune", async () => {
    await using w = await createWorld();
    await using rest = await startRestServer({ user: "backup", pass: "rest-Pa55word-7f3a" });
    await writeSources(w);
    await roundTrip(w, configWith(w, [`url = "${rest.url("r1/")}"`]));
    expect(await readdir(join(rest.dir, "r1"))).toContain("config");
  });

  test("secrets of a remote repository appear in no output, config show, history or argv", async () => {
    await using w = await createWorld();
    const restPass = "rest-Pa55word-c41d9e";
    const envSecret = "env-s3cret-b7e2a1";
    const fileSecret = "file-s3cret-9d8c7b";
    await using rest = await startRestServer({ user: "backup", pass: restPass });
    await writeSources(w);
    const envFile = join(w.dir, "s3.env");
    await writeFile(envFile, `AWS_SECRET_ACCESS_KEY=${fileSecret}\n`, { mode: 0o600 });
    await w.writeConfig(
      configWith(w, [
        `url = "${rest.url("r/")}"`,
        `env = { AWS_ACCESS_KEY_ID = "AKIA-not-secret", SNAPBACK_TEST_TOKEN = "${envSecret}" }`,
        `env_file = "${envFile}"`,
      ]),
    );
    const secrets = [restPass, encodeURIComponent(restPass), envSecret, fileSecret, TEST_PASSWORD];

    const outputs: string[] = [];
    const { value: verbose, argvs } = await watchArgv(() => w.cli(["--verbose", "backup"]));
    expect(verbose.exitCode).toBe(0);
    outputs.push(verbose.stdout, verbose.stderr);
    // The sampler did see the engine at work, so an argv with a secret would have been seen.
    expect([...argvs].some((a) => /restic .*backup/.test(a))).toBe(true);
    const leaking = [...argvs].filter((a) => secrets.some((s) => a.includes(s)));
    expect(leaking).toEqual([]);

    for (const args of [
      ["--json", "backup"],
      ["--verbose", "--json", "snapshots"],
      ["config", "show"],
      ["--json", "config", "show"],
      ["--json", "status"],
      ["--verbose", "prune"],
      ["--verbose", "restore", "p", "--target", join(w.dir, "out")],
    ]) {
      const r = await w.cli(args);
      expect(r.exitCode, `${args.join(" ")}: ${r.stderr}`).toBe(0);
      outputs.push(r.stdout, r.stderr);
    }
    // A failure prints the repository's URL and restic's stderr: still no secret.
    await rest.stop();
    const failed = await w.cli(["--verbose", "backup"]);
    expect(failed.exitCode).toBe(1);
    expect(failed.stderr).toMatch(
      /repository "r" at rest:http:\/\/127\.0\.0\.1:\d+\/r\/ is unreachable/,
    );
    outputs.push(failed.stdout, failed.stderr);

    const shown = outputs.join("\n");
    for (const s of secrets) expect(shown).not.toContain(s);
    expect(shown).toContain("SNAPBACK_TEST_TOKEN"); // names stay visible, values do not

    const stateFiles = (await readdir(w.stateDir, { recursive: true })).map((f) =>
      join(w.stateDir, f),
    );
    const history = stateFiles.filter((f) => /history\.sqlite/.test(f));
    expect(history.length).toBeGreaterThan(0);
    const stored = Buffer.concat(await Promise.all(history.map((f) => readFile(f))));
    // The failed run's error is in there, so a secret in it would be too.
    expect(stored.includes(Buffer.from("is unreachable"))).toBe(true);
    for (const s of secrets) expect(stored.includes(Buffer.from(s)), s).toBe(false);
    expect(await leftovers(w)).toEqual([]);
  });
});

describe("the standard REST server (rest-server 0.13)", () => {
  test("--private-repos with htpasswd: a user reaches only /<user>/", async () => {
    await using w = await createWorld();
    await using rest = await startRestServer({
      user: "alice",
      pass: "alice-Pa55-e0c1",
      privateRepos: true,
    });
    await writeSources(w);
    await roundTrip(w, configWith(w, [`url = "${rest.url("alice/r/")}"`]));
    expect(await readdir(join(rest.dir, "alice", "r"))).toContain("config");

    // Another user's path is refused by the server: named as such, nothing created there.
    await w.writeConfig(configWith(w, [`url = "${rest.url("bob/r/")}"`]));
    const refused = await w.cli(["backup"]);
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toMatch(/repository "r" at rest:http:\/\/127\.0\.0\.1:\d+\/bob\/r\//);
    expect(refused.stderr).not.toContain("alice-Pa55-e0c1");
    expect(await readdir(rest.dir)).toEqual(["alice"]);
    expect(await leftovers(w)).toEqual([]);
  });

  test("--append-only: backups work, retention is refused and said, prune exits 1, nothing removed", async () => {
    await using w = await createWorld();
    await using rest = await startRestServer({ appendOnly: true });
    await writeSources(w);
    const retention = "[plans.p.retention]\nkeep_last = 1";
    // Not declared: snapback learns it from the server's refusal and stops restic there.
    await w.writeConfig(`${configWith(w, [`url = "${rest.url("r/")}"`])}${retention}\n`);
    for (let i = 0; i < 2; i++) {
      const b = await w.cli(["--json", "backup"]);
      expect(b.exitCode, b.stderr).toBe(0);
      const result = events(b.stdout).find((e) => e.type === "result");
      expect(result?.["status"]).toBe("success");
      if (i === 1) {
        expect(JSON.stringify(result?.["warnings"])).toMatch(
          /refused to delete a snapshot .*retention must run where the server allows deletes/,
        );
      }
    }
    const prune = await w.cli(["prune"]);
    expect(prune.exitCode).toBe(1);
    expect(prune.stderr + prune.stdout).toMatch(
      /retention must run where the server allows deletes/,
    );
    const snapshotsOnServer = async (): Promise<number> =>
      (await readdir(join(rest.dir, "r", "snapshots"))).length;
    expect(await snapshotsOnServer()).toBe(2);

    // Declared: never asked at all, and the same words.
    await w.writeConfig(
      `${configWith(w, [`url = "${rest.url("r/")}"`, "append_only = true"])}${retention}\n`,
    );
    const b = await w.cli(["--json", "backup"]);
    expect(b.exitCode, b.stderr).toBe(0);
    const result = events(b.stdout).find((e) => e.type === "result");
    expect(JSON.stringify(result?.["warnings"])).toMatch(
      /is append-only .*nothing was removed; retention must run where the server allows deletes/,
    );
    const declared = await w.cli(["prune"]);
    expect(declared.exitCode).toBe(1);
    expect(declared.stderr + declared.stdout).toMatch(/append-only/);
    expect(await snapshotsOnServer()).toBe(3);
    const locks = await readdir(join(rest.dir, "r", "locks")).catch(() => []);
    expect(locks).toEqual([]);
    expect(await leftovers(w)).toEqual([]);
  });
});
