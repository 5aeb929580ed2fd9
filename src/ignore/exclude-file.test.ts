import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createTestRepo } from "../../test/fixtures/restic.js";
import { excludeFileLine, writeExcludeFile } from "./exclude-file.js";
import { literalPattern } from "./translate.js";
import { makeTree, snapshotEntries, tempDir } from "./test-support.js";

describe("writeExcludeFile", () => {
  it("writes a new 0600 file per call", async () => {
    await using dir = await tempDir("xfile");
    const old = process.umask(0);
    try {
      const a = await writeExcludeFile(dir.path, ["/a", "", "/b"]);
      const b = await writeExcludeFile(dir.path, ["/c"]);
      expect(a).not.toBe(b);
      expect((await stat(a)).mode & 0o777).toBe(0o600);
      expect(await readFile(a, "utf8")).toBe("/a\n/b\n");
    } finally {
      process.umask(old);
    }
  });

  it("makes restic read back names with $, #, and leading or trailing white space", async () => {
    await using t = await createTestRepo();
    await using dir = await tempDir("xfile-restic");
    const R = join(dir.path, "src");
    const odd = ["$HOME", "a$$b", "#hash", " lead", "trail ", "tab\t", "x\\ ", "keep"];
    await makeTree(R, Object.fromEntries(odd.map((n) => [n, "x"])));
    process.env["SNAPBACK_TEST_VAR"] = "keep";
    try {
      // Each names exactly one file; "keep" must survive although $SNAPBACK_TEST_VAR is set.
      const patterns = odd
        .filter((n) => n !== "keep")
        .map((n) => literalPattern(join(R, n)))
        .concat([`${R}/$SNAPBACK_TEST_VAR`, "#hash"]);
      const file = await writeExcludeFile(dir.path, patterns);
      await t.restic(["backup", "-q", `--exclude-file=${file}`, R]);
      expect(await snapshotEntries(t, R)).toEqual(["keep"]);
    } finally {
      delete process.env["SNAPBACK_TEST_VAR"];
    }
  });
});

describe("excludeFileLine", () => {
  it("escapes only what restic's reader would change", () => {
    expect(excludeFileLine("/a/b*")).toBe("/a/b*");
    expect(excludeFileLine("/a/$x")).toBe("/a/$$x");
    expect(excludeFileLine("#x")).toBe("[#]x");
    expect(excludeFileLine("!#x")).toBe("!#x");
    expect(excludeFileLine(" x ")).toBe("[ ]x[ ]");
    expect(excludeFileLine("x\\ ")).toBe("x[ ]");
    expect(excludeFileLine("x\\\\ ")).toBe("x\\\\[ ]");
    expect(() => excludeFileLine("a\nb")).toThrow(/newline/);
  });
});
