import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as z from "../util/zod.js";
import { createTestRepo } from "../../test/fixtures/restic.js";
import { resticExcludeArgs } from "./args.js";
import { ignorePlanKeys, parseResticSize } from "../config/ignore.js";
import { makeTree, snapshotEntries, tempDir } from "./test-support.js";

const plan = z.strictObject(ignorePlanKeys);

function problems(input: unknown): string[] {
  const r = plan.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

describe("ignore plan keys", () => {
  it("defaults and normalizes", () => {
    expect(plan.parse({})).toEqual({ exclude_caches: false, exclude_if_present: [] });
    expect(plan.parse({ ignore_file: ".resticignore", exclude_larger_than: 1024 })).toMatchObject({
      ignore_file: ".resticignore",
      exclude_larger_than: "1024",
    });
    expect(plan.parse({ exclude_larger_than: "500M" }).exclude_larger_than).toBe("500M");
    expect(
      plan.parse({ exclude_if_present: [".nobackup", "CACHEDIR.TAG:Signature: 8a47"] }),
    ).toMatchObject({ exclude_if_present: [".nobackup", "CACHEDIR.TAG:Signature: 8a47"] });
  });

  it("names the key of every bad value", () => {
    expect(problems({ ignore_file: "a/.ignore" })).toEqual([
      'ignore_file: must be a file name such as ".snapbackignore", not a path',
    ]);
    expect(problems({ exclude_larger_than: "1.5G" })[0]).toMatch(
      /^exclude_larger_than: must be a size/,
    );
    expect(problems({ exclude_larger_than: "500MB" })[0]).toMatch(
      /^exclude_larger_than: must be a size/,
    );
    expect(problems({ exclude_larger_than: "0" })[0]).toMatch(
      /^exclude_larger_than: must be larger than 0/,
    );
    expect(problems({ exclude_larger_than: -1 })).not.toEqual([]);
    expect(problems({ exclude_if_present: ["*.tag"] })[0]).toMatch(
      /^exclude_if_present\.0: must be a file name/,
    );
    expect(problems({ exclude_if_present: ["a/b"] })).not.toEqual([]);
  });

  it("parses sizes as restic does", () => {
    expect(parseResticSize("2048")).toBe(2048n);
    expect(parseResticSize("1k")).toBe(1024n);
    expect(parseResticSize("500M")).toBe(500n * 1024n * 1024n);
    expect(parseResticSize("2T")).toBe(2n * 1024n ** 4n);
    expect(parseResticSize("9999999999T")).toBeUndefined();
    expect(parseResticSize("1 M")).toBeUndefined();
  });
});

describe("resticExcludeArgs with real restic", () => {
  it("leaves out large files, tagged directories' contents and caches", async () => {
    await using t = await createTestRepo();
    await using dir = await tempDir("args");
    const R = join(dir.path, "src");
    await makeTree(R, {
      small: "x".repeat(1000),
      exact: "x".repeat(2048),
      big: "x".repeat(2049),
      "tagged/.nobackup": "",
      "tagged/data": "x",
      "tagged/sub/more": "x",
      "headed/.marker": "wrong header",
      "headed/data": "x",
      "cache/CACHEDIR.TAG": "Signature: 8a477f597d28d172789f06886806bc55\n",
      "cache/blob": "x",
    });
    const keys = plan.parse({
      exclude_larger_than: "2k",
      exclude_if_present: [".nobackup", ".marker:right header"],
      exclude_caches: true,
    });
    const excludeFile = join(dir.path, "excludes");
    await writeFile(excludeFile, "");
    const args = resticExcludeArgs({
      excludeFile,
      excludeIfPresent: keys.exclude_if_present,
      excludeCaches: keys.exclude_caches,
      ...(keys.exclude_larger_than === undefined
        ? {}
        : { excludeLargerThan: keys.exclude_larger_than }),
    });
    expect(args).toEqual([
      `--exclude-file=${excludeFile}`,
      "--exclude-if-present=.nobackup",
      "--exclude-if-present=.marker:right header",
      "--exclude-caches",
      "--exclude-larger-than=2k",
    ]);
    await t.restic(["backup", "-q", ...args, R]);
    // restic keeps a tagged directory and its tag file, and drops the rest of its contents.
    expect(await snapshotEntries(t, R)).toEqual([
      "cache/",
      "cache/CACHEDIR.TAG",
      "exact",
      "headed/",
      "headed/.marker",
      "headed/data",
      "small",
      "tagged/",
      "tagged/.nobackup",
    ]);
  });
});
