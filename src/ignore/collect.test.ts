import { cp, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createTestRepo, type TestRepo } from "../../test/fixtures/restic.js";
import { UsageError } from "../errors.js";
import { run } from "../exec/index.js";
import { collectIgnorePatterns, type CollectedIgnores } from "./collect.js";
import { writeExcludeFile } from "./exclude-file.js";
import { makeTree, snapshotEntries, tempDir } from "./test-support.js";

const NAME = ".snapbackignore";

const ROOT_IGNORE = [
  "# root rules",
  "",
  "*.log",
  "!keep.log",
  "/build",
  "tmp/",
  "docs/**/*.draft",
  "sub/deep/anchored.txt",
  "\\#literal",
  "\\!bang",
  "trailing\\ ",
  "cache/**",
  "!cache/keep.txt",
  "!cache/important",
  "*.bak",
  "[0-9][0-9].tmp",
  "[!a]x.dat",
  "?.one",
  "price$HOME.txt",
  "   ",
].join("\n");

const SUB_IGNORE = ["!*.bak", "/only-here.txt", "generated/", "**/node_modules"].join("\r\n");

// Everything except *.keep files, while still walking every directory.
const MORE_IGNORE = ["*", "!*.keep", "!*/"].join("\n");

const TREE: Record<string, string> = {
  [NAME]: ROOT_IGNORE,
  "a.log": "x",
  "keep.log": "x",
  "link.log": "-> a.log",
  linkdir: "-> sub",
  "build/out.o": "x",
  [`build/${NAME}`]: "!out.o\n",
  "tmp/t.txt": "x",
  "docs/c.draft": "x",
  "docs/a/b/c.draft": "x",
  "docs/c.txt": "x",
  "#literal": "x",
  "!bang": "x",
  "trailing ": "x",
  trailing: "x",
  "cache/junk": "x",
  "cache/keep.txt": "x",
  "cache/important/deep.txt": "x",
  "y.bak": "x",
  "12.tmp": "x",
  "ab.tmp": "x",
  "bx.dat": "x",
  "ax.dat": "x",
  "a.one": "x",
  "ab.one": "x",
  "price$HOME.txt": "x",
  "only-here.txt": "x",
  "node_modules/x.js": "x",
  "other/sub/deep/anchored.txt": "x",
  [`sub/${NAME}`]: SUB_IGNORE,
  "sub/x.log": "x",
  "sub/keep.log": "x",
  "sub/build/out.o": "x",
  "sub/tmp": "a file, not a directory",
  "sub/x.bak": "x",
  "sub/only-here.txt": "x",
  "sub/generated/g.c": "x",
  "sub/deep/only-here.txt": "x",
  "sub/deep/anchored.txt": "x",
  "sub/deep/node_modules/pkg.js": "x",
  [`sub/deep/more/${NAME}`]: MORE_IGNORE,
  "sub/deep/more/a.txt": "x",
  "sub/deep/more/b.keep": "x",
  "sub/deep/more/dd/c.txt": "x",
  "sub/deep/more/dd/d.keep": "x",
  [`we[ir]d*/${NAME}`]: "x\n",
  "we[ir]d*/x": "x",
  "we[ir]d*/y": "x",
  "wird/x": "x",
  [`lnk/${NAME}`]: `-> ../sub/${NAME}`,
  "lnk/z.bak": "x",
};

/** What gitignore keeps of TREE, worked out by hand. */
const KEPT = [
  NAME,
  "keep.log",
  "linkdir",
  "docs/",
  "docs/a/",
  "docs/a/b/",
  "docs/c.txt",
  "trailing",
  "cache/",
  "cache/keep.txt",
  "cache/important/",
  "ab.tmp",
  "ax.dat",
  "ab.one",
  "only-here.txt",
  "node_modules/",
  "node_modules/x.js",
  "other/",
  "other/sub/",
  "other/sub/deep/",
  "other/sub/deep/anchored.txt",
  "sub/",
  `sub/${NAME}`,
  "sub/keep.log",
  "sub/build/",
  "sub/build/out.o",
  "sub/tmp",
  "sub/x.bak",
  "sub/deep/",
  "sub/deep/only-here.txt",
  "sub/deep/more/",
  "sub/deep/more/b.keep",
  "sub/deep/more/dd/",
  "sub/deep/more/dd/d.keep",
  "we[ir]d*/",
  `we[ir]d*/${NAME}`,
  "we[ir]d*/y",
  "wird/",
  "wird/x",
  "lnk/",
  `lnk/${NAME}`,
].sort();

async function backupWith(t: TestRepo, dir: string, target: string, patterns: string[]) {
  const file = await writeExcludeFile(dir, patterns);
  await t.restic(["backup", "-q", `--exclude-file=${file}`, target]);
  return snapshotEntries(t, target);
}

function clean(c: CollectedIgnores): void {
  expect(c.errors).toEqual([]);
}

describe("collectIgnorePatterns", () => {
  it("makes real restic keep exactly what gitignore keeps, with nested ignore files", async () => {
    await using t = await createTestRepo();
    await using dir = await tempDir("nested");
    const R = join(dir.path, "src");
    await makeTree(R, TREE);

    const c = await collectIgnorePatterns([{ readFrom: R, original: R }], NAME);
    clean(c);
    expect(c.files).toEqual([
      join(R, NAME),
      join(R, "sub", NAME),
      join(R, "sub/deep/more", NAME),
      join(R, "we[ir]d*", NAME),
    ]);
    expect(c.warnings).toEqual([
      `${join(R, "lnk", NAME)}: is a symbolic link, not followed; not applied`,
    ]);
    // cache/important/deep.txt (restic's "!cache/important" covers what is below it), sub/tmp
    // (a file, and "tmp/" is for directories) and three files in more/ ("!*/" re-includes
    // everything for restic) need exact-path patterns.
    expect(c.corrected).toBe(5);
    expect(c.patterns.slice(-5)).toEqual([
      `${R}/cache/important/deep.txt`,
      `!${R}/sub/tmp`,
      `${R}/sub/deep/more/${NAME}`,
      `${R}/sub/deep/more/a.txt`,
      `${R}/sub/deep/more/dd/c.txt`,
    ]);

    expect(await backupWith(t, dir.path, R, c.patterns)).toEqual(KEPT);
  });

  it("reads the ignore files from readFrom and writes the patterns for the original path", async () => {
    await using t = await createTestRepo();
    await using dir = await tempDir("snapshot");
    const original = join(dir.path, "home");
    const snapshot = join(dir.path, "snap");
    await makeTree(original, { "a.txt": "x", "b.txt": "x", "c/d.txt": "x" });
    await cp(original, snapshot, { recursive: true });
    // Only the snapshot has the ignore file: it is what counts, as of the snapshot instant.
    await writeFile(join(snapshot, NAME), "b.txt\n/c\n");

    const c = await collectIgnorePatterns([{ readFrom: snapshot, original }], NAME);
    clean(c);
    expect(c.files).toEqual([join(original, NAME)]);
    expect(c.patterns).toEqual([`${original}/**/b.txt`, `${original}/c`]);
    expect(await backupWith(t, dir.path, original, c.patterns)).toEqual(["a.txt"]);
  });

  it("handles several roots, and a source that is / or a file", async () => {
    await using dir = await tempDir("roots");
    await makeTree(dir.path, { [`one/${NAME}`]: "x\n", [`two/${NAME}`]: "y\n", file: "z" });
    const c = await collectIgnorePatterns(
      [
        { readFrom: join(dir.path, "one"), original: "/srv/one" },
        { readFrom: join(dir.path, "two"), original: "/" },
        { readFrom: join(dir.path, "file"), original: "/etc/file" },
      ],
      NAME,
    );
    clean(c);
    expect(c.patterns).toEqual(["/srv/one/**/x", "/**/y"]);
    expect(c.files).toEqual([`/srv/one/${NAME}`, `/${NAME}`]);
  });

  it("does not read ignore files in another filesystem", async () => {
    await using dir = await tempDir("mounts");
    const R = join(dir.path, "src");
    await makeTree(R, { [NAME]: "a\n", "mnt/": "" });
    const mnt = join(R, "mnt");
    await run("mount", ["-t", "tmpfs", "snapback-test-ignore", mnt]);
    try {
      await writeFile(join(mnt, NAME), "secret\n");
      const c = await collectIgnorePatterns([{ readFrom: R, original: R }], NAME);
      clean(c);
      expect(c.files).toEqual([join(R, NAME)]);
      expect(c.patterns).toEqual([`${R}/**/a`]);
      expect(c.warnings).toEqual([
        `${mnt}: another filesystem; ${NAME} files in it are not applied`,
      ]);
    } finally {
      await run("umount", [mnt]);
    }
  });

  it("does not descend into excluded directories", async () => {
    await using dir = await tempDir("prune");
    const R = join(dir.path, "src");
    await makeTree(R, { [NAME]: "skip\n", [`skip/${NAME}`]: "!x\n", [`keep/${NAME}`]: "y\n" });
    // skip's own ignore file cannot re-include anything (git would not read it either).
    const c = await collectIgnorePatterns([{ readFrom: R, original: R }], NAME);
    clean(c);
    expect(c.files).toEqual([join(R, "keep", NAME), join(R, NAME)].sort());
    expect(c.patterns).toEqual([`${R}/**/skip`, `${R}/keep/**/y`]);
  });

  it("names file and line of every line it cannot apply, and keeps the others", async () => {
    await using dir = await tempDir("errors");
    const R = join(dir.path, "src");
    await makeTree(R, { [NAME]: "ok\n[abc\nfine\nbad\\", "sub/": "" });
    await writeFile(join(R, "sub", NAME), Buffer.from([0x66, 0xff, 0x0a]));
    const c = await collectIgnorePatterns([{ readFrom: R, original: "/data" }], NAME);
    expect(c.errors).toEqual([
      `/data/${NAME}:2: unterminated character class '[' (pattern "[abc")`,
      `/data/${NAME}:4: a pattern cannot end with a lone backslash (pattern "bad\\\\")`,
      `/data/sub/${NAME}: is not valid UTF-8`,
    ]);
    expect(c.patterns).toEqual(["/data/**/ok", "/data/**/fine"]);
  });

  it("refuses '!' lines and corrections that need negation with restic older than 0.13", async () => {
    await using dir = await tempDir("old");
    const R = join(dir.path, "src");
    // Two files named tmp, one message for the rule.
    await makeTree(R, {
      [NAME]: "*.log\n!keep.log\ntmp/\n",
      tmp: "a file",
      "sub/tmp/": "",
      "zz/tmp": "a file",
    });
    const c = await collectIgnorePatterns([{ readFrom: R, original: "/data" }], NAME, {
      resticVersion: "0.12.1",
    });
    expect(c.errors).toEqual([
      `/data/${NAME}:2: re-including with "!" needs restic 0.13.0 or newer, this restic is 0.12.1 (pattern "!keep.log")`,
      `/data/${NAME}:3: "tmp/" matches only directories, but restic cannot limit a pattern to directories and /data/tmp is not one; re-including it needs restic 0.13.0 or newer (this restic is 0.12.1): drop the trailing "/" or upgrade restic`,
    ]);
    const ok = await collectIgnorePatterns([{ readFrom: R, original: "/data" }], NAME, {
      resticVersion: "0.14.0",
    });
    clean(ok);
    expect(ok.patterns).toEqual([
      "/data/**/*.log",
      "!/data/**/keep.log",
      "/data/**/tmp",
      "!/data/tmp",
      "!/data/zz/tmp",
    ]);
  });

  it("refuses rules that would need too many exact-path corrections, naming them", async () => {
    await using dir = await tempDir("many");
    const R = join(dir.path, "src");
    await makeTree(R, { [NAME]: "*\n!*/\n", "a/1": "", "a/2": "", "a/3": "" });
    const c = await collectIgnorePatterns([{ readFrom: R, original: "/data" }], NAME, {
      maxCorrections: 2,
    });
    expect(c.errors).toHaveLength(1);
    expect(c.errors[0]).toMatch(/^more than 2 paths need an exact-path pattern/);
    expect(c.errors[0]).toContain(`/data/${NAME}:2 (!*/): 4 paths`);
  });

  it("refuses an ignore_file that is a path", async () => {
    await expect(collectIgnorePatterns([], "a/b")).rejects.toBeInstanceOf(UsageError);
    await expect(collectIgnorePatterns([], "..")).rejects.toThrow(/plain file name/);
  });

  it("walks a large tree", async () => {
    await using dir = await tempDir("large");
    const R = join(dir.path, "src");
    // 100 directories x 50 files, an ignore file in every fifth directory.
    for (let d = 0; d < 100; d++) {
      const p = join(R, `d${d}`, "inner");
      await mkdir(p, { recursive: true });
      await Promise.all(Array.from({ length: 50 }, (_, f) => writeFile(join(p, `f${f}.txt`), "")));
      if (d % 5 === 0) await writeFile(join(R, `d${d}`, NAME), "*.tmp\n!keep.tmp\n");
    }
    const c = await collectIgnorePatterns([{ readFrom: R, original: R }], NAME);
    clean(c);
    expect(c.files).toHaveLength(20);
    expect(c.patterns).toHaveLength(40);
    expect(c.corrected).toBe(0);
  });
});

/**
 * git's own verdict on a tree: every ignored file (also those in ignored directories),
 * relative, with `fileName` as the per-directory ignore file. The repository lives outside
 * the tree (--separate-git-dir leaves only a `.git` file in it).
 */
async function gitIgnored(tree: string, gitDir: string, fileName: string): Promise<string[]> {
  await run("git", ["init", "-q", `--separate-git-dir=${gitDir}`, tree]);
  const r = await run(
    "git",
    [
      "-C",
      tree,
      "-c",
      "core.excludesFile=/dev/null",
      "ls-files",
      "-z",
      "--others",
      "--ignored",
      `--exclude-per-directory=${fileName}`,
    ],
    { env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", HOME: gitDir } },
  );
  return r.stdout.split("\0").filter(Boolean).sort();
}

/** The relative paths a frozen tree's literal patterns name. */
function relativeExact(c: CollectedIgnores, original: string): string[] {
  return c.patterns.map((p) => p.slice(original.length + 1).replace(/\\(.)/g, "$1")).sort();
}

describe("collectIgnorePatterns on a frozen tree (a snapshot)", () => {
  it("hands restic exactly the paths git ignores: topmost directories and files outside them", async () => {
    await using t = await createTestRepo();
    await using dir = await tempDir("frozen");
    const R = join(dir.path, "src");
    await makeTree(R, TREE);
    const c = await collectIgnorePatterns([{ readFrom: R, original: R, frozen: true }], NAME, {
      // Negation is never needed: what restic gets are literal paths.
      resticVersion: "0.12.1",
    });
    clean(c);
    expect(c.corrected).toBe(0);
    expect(c.resolved).toBe(c.patterns.length);
    expect(c.patterns.every((p) => p.startsWith(`${R}/`))).toBe(true);

    const excluded = relativeExact(c, R);
    // Minimal: no path is below another one (nothing below an excluded directory is named).
    expect(excluded.filter((p) => excluded.some((q) => p.startsWith(`${q}/`)))).toEqual([]);
    // Exact: the files below or at those paths are the files git ignores.
    const files = (await run("find", [R, "-not", "-type", "d", "-printf", "%P\\n"])).stdout
      .split("\n")
      .filter(Boolean);
    const ours = files.filter((f) => excluded.some((p) => f === p || f.startsWith(`${p}/`))).sort();
    expect(ours.length).toBeGreaterThan(20);
    expect(ours).toEqual(await gitIgnored(R, join(dir.path, "git"), NAME));
    // restic keeps what gitignore keeps (the .git file git added is kept too)
    expect(await backupWith(t, dir.path, R, c.patterns)).toEqual([...KEPT, ".git"].sort());
  });

  it("an ignore file whose rules match nothing gives restic nothing", async () => {
    await using dir = await tempDir("nomatch");
    const R = join(dir.path, "src");
    const tree: Record<string, string> = {};
    for (let d = 0; d < 10; d++) {
      tree[`d${d}/${NAME}`] = "*.nothing\nnever-there/\n";
      for (let f = 0; f < 10; f++) tree[`d${d}/f${f}.txt`] = "x";
    }
    await makeTree(R, tree);
    const c = await collectIgnorePatterns([{ readFrom: R, original: R, frozen: true }], NAME);
    clean(c);
    expect(c.files).toHaveLength(10);
    expect(c.patterns).toEqual([]);
  });

  it("continues into nested roots (subvolumes) with the parent's rules, without a warning", async () => {
    await using dir = await tempDir("nested-roots");
    const home = join(dir.path, "snap-home");
    const alice = join(dir.path, "snap-alice");
    // The parent's snapshot holds an empty placeholder where the nested subvolume is.
    await makeTree(home, {
      [NAME]: "logs/\n*.tmp\n",
      logs: "a file named logs: kept (logs/ matches directories only)",
      "bob/logs/x": "x",
      "alice/": "",
    });
    await makeTree(alice, {
      logs: "a file named logs in the nested subvolume: kept too",
      "work/logs/y": "y",
      "a.tmp": "x",
      [NAME]: "secret\n",
      secret: "x",
    });
    const c = await collectIgnorePatterns(
      [
        { readFrom: home, original: "/home", frozen: true },
        { readFrom: alice, original: "/home/alice", frozen: true },
      ],
      NAME,
    );
    clean(c);
    expect(c.warnings).toEqual([]);
    expect(c.files.sort()).toEqual([`/home/${NAME}`, `/home/alice/${NAME}`]);
    expect(c.patterns.sort()).toEqual([
      "/home/alice/a.tmp",
      "/home/alice/secret",
      "/home/alice/work/logs",
      "/home/bob/logs",
    ]);
  });

  it("falls back to patterns when the rules exclude too many separate paths", async () => {
    await using dir = await tempDir("many");
    const R = join(dir.path, "src");
    const tree: Record<string, string> = { [NAME]: "*.o\n" };
    for (let f = 0; f < 20; f++) tree[`f${f}.o`] = "x";
    await makeTree(R, tree);
    const c = await collectIgnorePatterns([{ readFrom: R, original: R, frozen: true }], NAME, {
      maxExactPaths: 10,
    });
    clean(c);
    expect(c.patterns).toEqual([`${R}/**/*.o`]);
    expect(c.warnings.join("\n")).toContain("exclude 20 separate paths (more than 10)");
  });
});
