import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createTestRepo, type TestRepo } from "../../../test/fixtures/restic.js";
import { forget, forgetArgs, parseForgetOutput } from "./forget.js";
import { resticRepo, secretsOf, tempDir } from "./test-support.js";

/** A backup made directly with restic at a faked time, as if by an earlier run. */
/** Returns the short id. */
async function fakeBackup(
  t: TestRepo,
  dir: string,
  time: string,
  tag: string,
  host: string,
): Promise<string> {
  await writeFile(join(dir, "f"), time);
  const out = await t.restic([
    "backup",
    "--json",
    "--time",
    time,
    "--tag",
    tag,
    "--host",
    host,
    dir,
  ]);
  const summary = out
    .split("\n")
    .map((l) =>
      l.startsWith("{") ? (JSON.parse(l) as { message_type?: string; snapshot_id?: string }) : {},
    )
    .find((m) => m.message_type === "summary");
  if (!summary?.snapshot_id) throw new Error(`no snapshot id in ${out}`);
  // 0.14 prints the short id here, newer versions the full one.
  return summary.snapshot_id.slice(0, 8);
}

describe("forget", () => {
  it("builds a plan- and host-scoped command with one group and only the rules that are set", () => {
    expect(
      forgetArgs({
        planName: "home",
        host: "nas",
        rules: { last: 3, daily: 0, within: "30d" },
        dryRun: true,
      }),
    ).toEqual([
      "forget",
      "--json",
      "--tag=plan:home",
      "--host=nas",
      "--group-by=host",
      "--keep-last=3",
      "--keep-within=30d",
      "--dry-run",
      "--no-lock",
    ]);
    expect(() =>
      forgetArgs({ planName: "home", host: "nas", rules: { daily: 0 }, dryRun: false }),
    ).toThrow(/every backup/);
    expect(() =>
      forgetArgs({ planName: "home", host: "nas", rules: { within: "2w" }, dryRun: false }),
    ).toThrow(/keep_within = "2w": restic understands only y \(years\), m \(months\)/);
  });

  it("keeps by the rules on restic 0.14, names the rule, and leaves other plans and hosts alone", async () => {
    await using t = await createTestRepo();
    await using src = await tempDir("forget-src");
    const repo = resticRepo(t.url, t.passwordFile);
    const target = { repoName: "test", repo, secrets: await secretsOf(repo) };
    const mine: Record<string, string> = {};
    for (const time of [
      "2024-01-01 10:00:00",
      "2024-01-02 10:00:00",
      "2024-01-02 18:00:00",
      "2024-01-03 10:00:00",
    ]) {
      mine[time] = await fakeBackup(t, src.path, time, "plan:home", "h1");
    }
    const otherPlan = await fakeBackup(t, src.path, "2023-06-01 10:00:00", "plan:other", "h1");
    const otherHost = await fakeBackup(t, src.path, "2023-06-01 10:00:00", "plan:home", "h2");

    const dry = await forget(target, {
      planName: "home",
      host: "h1",
      rules: { daily: 2 },
      dryRun: true,
      cacheDir: join(t.dir, "cache"),
    });
    // Newest first: 01-03 (day 1), 01-02 18:00 (day 2); 01-02 10:00 is the same day; 01-01 is beyond.
    expect(dry.keep.map((s) => s.shortId)).toEqual([
      mine["2024-01-02 18:00:00"],
      mine["2024-01-03 10:00:00"],
    ]);
    expect(dry.keep.every((s) => s.reasons.includes("daily snapshot"))).toBe(true);
    expect(dry.remove.map((s) => s.shortId)).toEqual([
      mine["2024-01-01 10:00:00"],
      mine["2024-01-02 10:00:00"],
    ]);
    expect((await t.snapshots()).length).toBe(6);

    const done = await forget(target, {
      planName: "home",
      host: "h1",
      rules: { daily: 2 },
      dryRun: false,
      cacheDir: join(t.dir, "cache"),
    });
    expect(done.remove.map((s) => s.id)).toEqual(dry.remove.map((s) => s.id));
    const left = (await t.snapshots()).map((s) => s.id.slice(0, 8)).sort();
    expect(left).toEqual(
      [mine["2024-01-02 18:00:00"], mine["2024-01-03 10:00:00"], otherPlan, otherHost].sort(),
    );
  });

  it("parses newer output: reasons with ids, notes before the document, missing lists", () => {
    const doc = JSON.stringify([
      {
        host: "h",
        tags: null,
        keep: [
          {
            id: "a".repeat(64),
            short_id: "aaaaaaaa",
            time: "2024-01-02T10:00:00Z",
            tree: "t",
            paths: ["/x"],
            hostname: "h",
          },
        ],
        remove: [
          {
            id: "b".repeat(64),
            time: "2024-01-01T10:00:00+01:00",
            paths: ["/x"],
            hostname: "h",
            tags: ["plan:p"],
          },
        ],
        reasons: [
          {
            snapshot: { id: "a".repeat(64), time: "2024-01-02T10:00:00Z" },
            matches: ["last snapshot", 7],
            counters: { last: 1 },
          },
        ],
      },
      { host: "h" },
    ]);
    const r = parseForgetOutput(`some note\n${doc}\n`);
    expect(r.keep).toEqual([
      {
        id: "a".repeat(64),
        shortId: "aaaaaaaa",
        time: "2024-01-02T10:00:00.000Z",
        paths: ["/x"],
        tags: [],
        host: "h",
        reasons: ["last snapshot"],
      },
    ]);
    expect(r.remove.map((s) => [s.shortId, s.time, s.tags])).toEqual([
      ["bbbbbbbb", "2024-01-01T09:00:00.000Z", ["plan:p"]],
    ]);
    expect(parseForgetOutput("")).toEqual({ keep: [], remove: [] });
    expect(() => parseForgetOutput("{}")).toThrow(/array/);
  });
});
