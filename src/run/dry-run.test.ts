import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfigText } from "../config/load.js";
import { describeDryRun, dryRunLines } from "./dry-run.js";
import { planRun } from "./plan.js";

async function tempDir(): Promise<AsyncDisposable & { path: string }> {
  const path = await mkdtemp(join(tmpdir(), "snapback-dry-run-"));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

describe("backup --dry-run shows everything the run would do", () => {
  it("hooks, dumps, the restic command with --exclude-file from ignore files, forget and prune", async () => {
    await using t = await tempDir();
    const src = join(t.path, "src");
    await mkdir(join(src, "logs"), { recursive: true });
    await writeFile(join(src, ".snapbackignore"), "logs/\n*.tmp\n");
    const config = parseConfigText(`
state_dir = "${join(t.path, "state")}"
[repositories.nas]
engine = "restic"
url = "rest:https://backup:S3cretPW@nas.example.net:8000/server"
password_file = "${join(t.path, "missing.pass")}"

[plans.home]
sources = ["${src}"]
repositories = ["nas"]
snapshot = "none"
host = "h1"
ignore_file = ".snapbackignore"
exclude = ["*.iso"]

[[plans.home.hooks]]
when = "before"
name = "stop-app"
run = ["systemctl", "stop", "app"]

[[plans.home.databases]]
type = "sqlite"
name = "grafana"
path = "/var/lib/grafana/grafana.db"

[plans.home.retention]
keep_daily = 7
local_snapshots = 0
`);
    const p = await planRun(config, "home", "run1");
    const d = await describeDryRun(config, p);
    const json = JSON.stringify(d);
    expect(json).not.toContain("S3cretPW");

    expect(d.hooks).toEqual([expect.stringMatching(/^before hook stop-app: systemctl stop app/)]);
    expect(d.databases).toEqual([expect.stringMatching(/^database grafana \(sqlite\)/)]);
    // The patterns from the ignore file, then the plan's own: one --exclude-file, no --exclude.
    expect(d.exclude_file?.patterns).toEqual(
      expect.arrayContaining([`${src}/**/logs`, "*.iso"]) as unknown,
    );
    const [backup] = d.commands;
    expect(backup).toMatch(
      /^\[nas\] RESTIC_REPOSITORY=rest:https:\/\/nas\.example\.net:8000\/server restic backup --json/,
    );
    expect(backup).toContain(`--exclude-file=${d.exclude_file?.path ?? "?"}`);
    expect(backup).not.toContain("--exclude=");
    expect(d.after).toEqual([
      expect.stringMatching(
        /^\[nas\] RESTIC_REPOSITORY=.* restic forget --json --tag=plan:home --host=h1 --group-by=host --keep-daily=7$/,
      ),
      expect.stringMatching(
        /restic forget .*--tag=plan-db:home,database:grafana .*--keep-daily=7$/,
      ),
      expect.stringMatching(/restic prune +\(when forget removed a backup\)$/),
      "local restore points: keep the newest 0 run(s) of snapshots on the sources",
    ]);

    const text = dryRunLines(config, p, d).join("\n");
    for (const line of [...d.hooks, ...d.databases, ...d.commands, ...d.after])
      expect(text).toContain(line);
    expect(text).toContain(`    ${src}/**/logs`);
    expect(text).not.toContain("S3cretPW");

    // The text is the run's pipeline: every step by name, in order, each with what it would do.
    const steps = [
      "lock",
      "start",
      "temp dir",
      "open repositories",
      "before hooks",
      "snapshots",
      "view",
      "each repository: backup, dumps",
      "release snapshots",
      "retention",
      "scheduled check",
      "result",
    ];
    expect(d.steps).toEqual(steps);
    const lines = text.split("\n");
    expect(lines.filter((l) => /^ {2}\[.+\]$/.test(l))).toEqual(steps.map((s) => `  [${s}]`));
    const stepOf = (needle: string): string | undefined =>
      lines
        .slice(
          0,
          lines.findIndex((l) => l.includes(needle)),
        )
        .findLast((l) => /^ {2}\[.+\]$/.test(l));
    expect(stepOf("hook: before hook stop-app")).toBe("  [before hooks]");
    expect(stepOf("none snapshot of")).toBe("  [snapshots]");
    expect(stepOf(`    ${src}/**/logs`)).toBe("  [view]");
    expect(stepOf("run: [nas]")).toBe("  [each repository: backup, dumps]");
    expect(stepOf("database grafana (sqlite)")).toBe("  [each repository: backup, dumps]");
    expect(stepOf("restic forget")).toBe("  [retention]");
  });
});
