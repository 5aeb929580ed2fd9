import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createTestRepo } from "../../test/fixtures/restic.js";
import { writeExcludeFile } from "./exclude-file.js";
import { goGlobToRegExp, pathComponents, resticExcludes, ResticPattern } from "./restic-match.js";
import { makeTree, snapshotEntries, tempDir } from "./test-support.js";

/** What the model says restic keeps of the tree at `root` (restic does not descend into an excluded directory). */
async function predict(root: string, patterns: readonly ResticPattern[]): Promise<string[]> {
  const kept: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
      const r = rel === "" ? e.name : `${rel}/${e.name}`;
      if (resticExcludes(patterns, pathComponents(join(root, r)))) continue;
      kept.push(e.isDirectory() ? `${r}/` : r);
      if (e.isDirectory()) await walk(r);
    }
  };
  await walk("");
  return kept.sort();
}

describe("the restic model", () => {
  it("predicts what real restic keeps, for absolute, relative, ** and negated patterns", async () => {
    await using t = await createTestRepo();
    await using dir = await tempDir("model");
    const R = join(dir.path, "tree");
    await makeTree(R, {
      "a.c": "",
      "b.h": "",
      "zz.h": "",
      "keep/x.c": "",
      "keep/sub/y.c": "",
      "keep/sub/z.txt": "",
      "a/b/c.txt": "",
      "a/d.txt": "",
      "a/e/f.txt": "",
      "foo/1/2/bar/q": "",
      "foo/bar": "",
      "xay/": "",
      "deep/er/xby": "",
      "m/n/o/p.txt": "",
      dollar$x: "",
      "w[1]/v": "",
    });
    const texts = [
      "*.c",
      `!${R}/keep/**`,
      `${R}/a/*`,
      `!${R}/a/b`,
      "foo/**/bar",
      `${R}/**/x?y`,
      "[^z]*.h",
      `${R}/m/*/o`,
      `!${R}/m/n/o/p.txt`,
      `${R}/dollar$x`,
      `${R}/w\\[1\\]/v`,
    ];
    const patterns = texts.map((p) => new ResticPattern(p));
    const expected = await predict(R, patterns);
    // The model is not trivially "keep all": these show the interesting cases.
    expect(expected).toContain("keep/x.c");
    expect(expected).toContain("a/b/c.txt");
    expect(expected).not.toContain("a/d.txt");
    expect(expected).not.toContain("m/n/o/");
    expect(expected).not.toContain("w[1]/v");
    expect(expected).toContain("zz.h");

    const file = await writeExcludeFile(dir.path, texts);
    await t.restic(["backup", "-q", `--exclude-file=${file}`, R]);
    expect(await snapshotEntries(t, R)).toEqual(expected);
  });

  it("rejects what Go's filepath.Match rejects", () => {
    for (const bad of ["[]a]", "[a", "x\\", "[a-]", "[-a]", "[^]"]) {
      expect(() => goGlobToRegExp(bad), bad).toThrow(/invalid pattern component/);
    }
    expect(goGlobToRegExp("[\\]]a").test("]a")).toBe(true);
    expect(goGlobToRegExp("[^\\-x]").test("y")).toBe(true);
    expect(goGlobToRegExp("[^\\-x]").test("-")).toBe(false);
    expect(goGlobToRegExp("[z-a]").test("m")).toBe(false);
  });
});
