import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { it } from "vitest";
import { createTestRepo } from "../../test/fixtures/restic.js";
import { collectIgnorePatterns } from "./collect.js";
import { writeExcludeFile } from "./exclude-file.js";
import { makeTree, snapshotEntries, tempDir } from "./test-support.js";

it("scratch: divergence without corrections", async () => {
  await using t = await createTestRepo();
  await using dir = await tempDir("scratch");
  const R = join(dir.path, "src");
  await makeTree(R, { ".snapbackignore": "cache/**\n!cache/important\ntmp/\n", "cache/important/deep.txt": "x", "cache/j": "x", "sub/tmp": "file" });
  const c = await collectIgnorePatterns([{ readFrom: R, original: R }], ".snapbackignore");
  console.log(c.patterns.map((p) => p.replace(R, "R")));
  const file = await writeExcludeFile(dir.path, c.patterns.slice(0, c.patterns.length - c.corrected));
  await t.restic(["backup", "-q", `--exclude-file=${file}`, R]);
  console.log("without corrections:", await snapshotEntries(t, R));
  const file2 = await writeExcludeFile(dir.path, c.patterns);
  await t.restic(["backup", "-q", `--exclude-file=${file2}`, R]);
  console.log("with corrections:", await snapshotEntries(t, R));
});

it("scratch: timing", async () => {
  await using dir = await tempDir("timing");
  const R = join(dir.path, "src");
  let files = 0;
  for (let a = 0; a < 100; a++) for (let b = 0; b < 20; b++) {
    const p = join(R, `a${a}`, `b${b}`);
    await mkdir(p, { recursive: true });
    await Promise.all(Array.from({ length: 50 }, (_, f) => writeFile(join(p, `f${f}.${f % 5 === 0 ? "tmp" : "txt"}`), "")));
    files += 50;
    if (b % 5 === 0) await writeFile(join(R, `a${a}`, `b${b}`, ".snapbackignore"), "*.tmp\n");
  }
  await writeFile(join(R, ".snapbackignore"), "*.o\nbuild/\n!keep.o\n");
  for (const run of [1, 2]) {
    const t0 = performance.now();
    const c = await collectIgnorePatterns([{ readFrom: R, original: R }], ".snapbackignore");
    console.log(`run ${run}: ${files} files, 2100 dirs, ${c.files.length} ignore files, ${c.patterns.length} patterns: ${(performance.now() - t0).toFixed(0)} ms`);
  }
  const t1 = performance.now();
  const c = await collectIgnorePatterns([{ readFrom: R, original: R }], ".snapbackignore", { concurrency: 1 });
  console.log(`concurrency 1: ${(performance.now() - t1).toFixed(0)} ms ${c.patterns.length}`);
});
