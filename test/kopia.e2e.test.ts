import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import {
  createFakeKopiaRepo,
  FAKE_KOPIA_DIR,
  FAKE_PASSWORD,
  type FakeKopiaRepo,
} from "../src/engine/kopia/test-support.js";
import { createWorld, leftovers, type World } from "./fixtures/cli.js";

/**
 * kopia end to end: the real CLI, real btrfs snapshots and the real view, with a scripted
 * stand-in for kopia first on PATH (test/fixtures/fake-kopia: kopia is not in Debian and
 * there is no network here). The stand-in records its argv, its environment and what it
 * saw at each source path.
 */

interface JsonEvent {
  type: string;
  [k: string]: unknown;
}

function events(stdout: string): JsonEvent[] {
  return stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as JsonEvent);
}

const withFakeKopia = {
  env: { PATH: `${FAKE_KOPIA_DIR}:${process.env["PATH"] ?? "/usr/bin:/bin"}` },
};

function config(
  w: World,
  k: FakeKopiaRepo,
  opts: { restic?: boolean; planExtra?: string } = {},
): string {
  const repos = opts.restic ? '["r", "kk"]' : '["kk"]';
  return [
    `state_dir = "${w.stateDir}"`,
    "[repositories.r]",
    'engine = "restic"',
    `url = "${w.repo.url}"`,
    `password_file = "${w.repo.passwordFile}"`,
    "[repositories.kk]",
    'engine = "kopia"',
    `config_file = "${k.configFile}"`,
    `password_file = "${k.passwordFile}"`,
    "[plans.p]",
    `sources = ["${w.data}"]`,
    `repositories = ${repos}`,
    'tags = ["nightly"]',
    opts.planExtra ?? "",
    "",
  ].join("\n");
}

describe("kopia end to end (real btrfs and view, kopia stand-in)", () => {
  test("kopia reads the snapshot at the original path, read-only, beside restic; retention through kopia's policy", async () => {
    await using w = await createWorld();
    await using k = await createFakeKopiaRepo();
    await writeFile(join(w.data, "marker"), "before");
    await mkdir(join(w.data, "docs"));
    await writeFile(join(w.data, "docs", "a.txt"), "a\n");
    // Runs once the snapshot exists: the live file changes, the snapshot keeps "before".
    const hook = `[[plans.p.hooks]]\nwhen = "after_snapshot"\nshell = "printf after > ${join(w.data, "marker")}"`;
    await w.writeConfig(
      config(w, k, { restic: true, planExtra: `[plans.p.retention]\nkeep_last = 2\n${hook}` }),
    );

    const r = await w.cli(["--json", "backup"], withFakeKopia);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.exitCode).toBe(0);
    const evs = events(r.stdout);
    const summaries = evs.filter((e) => e.type === "summary");
    expect(summaries.map((s) => s["repository"]).sort()).toEqual(["kk", "r"]);
    const kopiaSummary = summaries.find((s) => s["repository"] === "kk");
    expect(kopiaSummary).toMatchObject({ files_new: 2, error_count: 0 });
    expect(evs.find((e) => e.type === "result")).toMatchObject({ status: "success" });
    expect(await readFile(join(w.data, "marker"), "utf8")).toBe("after");

    const create = (await k.calls()).find((c) => c.command === "snapshot create");
    // The original path, seen read-only (EROFS: the view's bind mount) with the snapshot's content.
    expect(create?.sources).toEqual([
      { path: w.data, writable: false, writeError: "EROFS", marker: "before" },
    ]);
    expect(create?.argv.at(-1)).toBe(w.data);
    expect(create?.env["KOPIA_PASSWORD"]).toBe(FAKE_PASSWORD);
    expect(create?.env["TMPDIR"]).toMatch(new RegExp(`^${w.stateDir}/tmp/`));
    for (const c of await k.calls()) expect(c.argv.join(" ")).not.toContain(FAKE_PASSWORD);
    expect((await k.manifests())[0]?.id).toBe(kopiaSummary?.["snapshot_id"]);

    // restic, beside it, recorded the same instant.
    expect((await w.repo.snapshots())[0]?.paths).toEqual([w.data]);
    expect(await w.repo.restic(["dump", "latest", join(w.data, "marker")])).toBe("before");

    for (let i = 0; i < 2; i++)
      expect((await w.cli(["backup", "p"], withFakeKopia)).exitCode).toBe(0);
    // keep_last = 2 became the source's kopia policy, applied by kopia after each snapshot.
    expect(await k.manifests()).toHaveLength(2);
    const third = (await k.calls()).filter((c) => c.command === "snapshot create").at(-1);
    expect(third?.sources[0]?.marker).toBe("after");

    const list = await w.cli(["--json", "snapshots", "--repository", "kk"], withFakeKopia);
    expect(list.exitCode).toBe(0);
    const snaps = JSON.parse(list.stdout) as {
      id: string;
      paths: string[];
      tags: string[];
      repository: string;
      plan: string;
    }[];
    expect(snaps.map((s) => s.id)).toEqual((await k.manifests()).map((m) => m.id));
    expect(snaps[0]).toMatchObject({
      paths: [w.data],
      tags: ["nightly", "plan:p"],
      repository: "kk",
      plan: "p",
    });
    expect(await leftovers(w)).toEqual([]);
  });

  test("restore from kopia at the original paths; refused over existing files without --overwrite", async () => {
    await using w = await createWorld();
    await using k = await createFakeKopiaRepo();
    await writeFile(join(w.data, "keep.txt"), "original\n");
    await w.writeConfig(config(w, k));
    expect((await w.cli(["backup"], withFakeKopia)).exitCode).toBe(0);
    await writeFile(join(w.data, "keep.txt"), "changed after the backup\n");

    const target = join(w.dir, "restore");
    const first = await w.cli(["restore", "p", "--target", target], withFakeKopia);
    expect(first.exitCode).toBe(0);
    expect(await readFile(join(target, w.data, "keep.txt"), "utf8")).toBe("original\n");

    await writeFile(join(target, w.data, "keep.txt"), "mine\n");
    const again = await w.cli(["restore", "p", "--target", target], withFakeKopia);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toContain(
      `restore into ${target} would overwrite what exists at ${join(target, w.data)}`,
    );
    expect(await readFile(join(target, w.data, "keep.txt"), "utf8")).toBe("mine\n");
    expect(
      (await w.cli(["restore", "p", "--target", target, "--overwrite"], withFakeKopia)).exitCode,
    ).toBe(0);
    expect(await readFile(join(target, w.data, "keep.txt"), "utf8")).toBe("original\n");
    expect(await leftovers(w)).toEqual([]);
  });

  test("a file kopia could not read makes the run partial (exit 3), not failed", async () => {
    await using w = await createWorld();
    await using k = await createFakeKopiaRepo();
    await writeFile(join(w.data, "ok.txt"), "ok\n");
    await writeFile(join(w.data, "bad.txt"), "unreadable\n");
    await k.setMode("partial:bad.txt");
    await w.writeConfig(config(w, k));
    const r = await w.cli(["--json", "backup"], withFakeKopia);
    expect(r.exitCode).toBe(3);
    const evs = events(r.stdout);
    expect(evs.find((e) => e.type === "summary")).toMatchObject({
      repository: "kk",
      error_count: 1,
    });
    expect(evs.find((e) => e.type === "result")).toMatchObject({ status: "partial" });
    expect(r.stdout).toContain(`bad.txt: open ${join(w.data, "bad.txt")}: permission denied`);
    expect(await k.manifests()).toHaveLength(1);
    expect(await leftovers(w)).toEqual([]);
  });

  test("wrong password (exit 2) and an unreachable repository (exit 1): clear messages naming it, nothing created", async () => {
    await using w = await createWorld();
    await using k = await createFakeKopiaRepo();
    await writeFile(join(w.data, "f"), "x");
    await writeFile(k.passwordFile, "not the password\n");
    await w.writeConfig(config(w, k));
    const wrong = await w.cli(["--json", "backup"], withFakeKopia);
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stdout).toContain(
      'repository \\"kk\\": wrong password (kopia: invalid repository password)',
    );
    expect(wrong.stdout).not.toContain('"type":"snapshots"');
    expect((await k.calls()).map((c) => c.command)).toEqual(["repository status"]);

    await writeFile(k.passwordFile, `${FAKE_PASSWORD}\n`);
    await k.setMode("unreachable");
    const down = await w.cli(["backup"], withFakeKopia);
    expect(down.exitCode).toBe(1);
    expect(down.stderr).toContain(
      'repository "kk" is unreachable: error connecting to SFTP server',
    );
    expect(await k.manifests()).toEqual([]);
    expect(await leftovers(w)).toEqual([]);
  });
});
