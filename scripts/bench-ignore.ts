/**
 * `make bench`, ignore files at scale (issue 10): restic's own time for an unchanged
 * incremental of many small files with 40 ignore files (2 rules each, matching nothing),
 * given to restic (a) not at all, (b) as snapback resolves them on a snapshot (exact paths:
 * here none), (c) as patterns (what a live tree, `snapshot = "none"`, still gets). Runs
 * alternate a, b, c so the load of a shared machine drifts alike for all three.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../src/exec/index.js";
import { collectIgnorePatterns, writeExcludeFile } from "../src/ignore/index.js";
import { createTestRepo } from "../test/fixtures/restic.js";

export interface IgnoreBenchOptions {
  files: number;
  ignoreFiles: number;
  repeat: number;
  say: (m: string) => void;
}

const NAME = ".snapbackignore";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

/** restic's own duration of a backup (`total_duration` of its summary), in seconds. */
async function resticSeconds(repo: string, password: string, args: string[]): Promise<number> {
  const r = await run("restic", ["-r", repo, "backup", "--json", ...args], {
    env: { RESTIC_PASSWORD: password, RESTIC_CACHE_DIR: join(repo, "..", "cache") },
  });
  for (const line of r.stdout.split("\n")) {
    if (!line.includes('"summary"')) continue;
    const s = JSON.parse(line) as { total_duration?: number };
    if (typeof s.total_duration === "number") return s.total_duration;
  }
  throw new Error("restic printed no summary");
}

export async function benchIgnoreFiles(o: IgnoreBenchOptions): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "snapback-bench-ignore-"));
  try {
    await using repo = await createTestRepo();
    const password = "correct horse battery staple";
    const root = join(dir, "tree");
    o.say(`ignore files: writing ${o.files} files with ${o.ignoreFiles} ignore files`);
    const perDir = 100;
    const dirs = Math.ceil(o.files / perDir);
    for (let d = 0; d < dirs; d++) {
      const sub = join(root, `g${d % 40}`, `d${d}`);
      await mkdir(sub, { recursive: true });
      const writes: Promise<void>[] = [];
      for (let f = 0; f < perDir && d * perDir + f < o.files; f++) {
        writes.push(writeFile(join(sub, `f${f}.txt`), `file ${d}/${f}\n`));
      }
      await Promise.all(writes);
    }
    for (let i = 0; i < o.ignoreFiles; i++) {
      // Spread over the tree: the top of each group and some directories below.
      const at = i < 40 ? join(root, `g${i % 40}`) : join(root, `g${i % 40}`, `d${i}`);
      await mkdir(at, { recursive: true });
      await writeFile(join(at, NAME), `*.nomatch${i}\nbuild-${i}/\n`);
    }

    const t0 = performance.now();
    const exact = await collectIgnorePatterns(
      [{ readFrom: root, original: root, frozen: true }],
      NAME,
    );
    const walkMs = performance.now() - t0;
    const asPatterns = await collectIgnorePatterns([{ readFrom: root, original: root }], NAME);
    const exactFile = await writeExcludeFile(dir, exact.patterns);
    const patternDir = join(dir, "patterns");
    await mkdir(patternDir);
    const patternFile = await writeExcludeFile(patternDir, asPatterns.patterns);

    await resticSeconds(repo.url, password, [root]); // the first backup: not measured
    const none: number[] = [];
    const resolved: number[] = [];
    const patterns: number[] = [];
    for (let i = 0; i < o.repeat; i++) {
      o.say(`ignore files: round ${i + 1} of ${o.repeat}`);
      none.push(await resticSeconds(repo.url, password, [root]));
      resolved.push(await resticSeconds(repo.url, password, [`--exclude-file=${exactFile}`, root]));
      patterns.push(
        await resticSeconds(repo.url, password, [`--exclude-file=${patternFile}`, root]),
      );
    }
    const base = median(none);
    const q = (xs: number[]): string => (base > 0 ? (median(xs) / base).toFixed(2) : "—");
    const list = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(", ");
    return [
      `### Ignore files at scale (${o.files} files, ${exact.files.length} ignore files of 2 rules that match nothing; restic's own time of an unchanged incremental, median of ${o.repeat})`,
      "",
      "| restic given | exclude patterns | restic's time | ratio to none | target | met? |",
      "|---|---|---|---|---|---|",
      `| nothing | 0 | ${base.toFixed(2)} s | 1.00 | — | — |`,
      `| snapback's resolved paths (snapshot) | ${exact.patterns.length} | ${median(resolved).toFixed(2)} s | ${q(resolved)} | ≤ 1.05 | ${Number(q(resolved)) <= 1.05 ? "yes" : "**no**"} |`,
      `| the rules as patterns (live tree, \`snapshot = "none"\`) | ${asPatterns.patterns.length} | ${median(patterns).toFixed(2)} s | ${q(patterns)} | — | — |`,
      "",
      `snapback's walk resolving the rules: ${(walkMs / 1000).toFixed(2)} s. Runs (s): none ${list(none)}; resolved ${list(resolved)}; patterns ${list(patterns)}.`,
      "",
    ].join("\n");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
