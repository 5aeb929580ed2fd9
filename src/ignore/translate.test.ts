import { describe, expect, it } from "vitest";
import { IgnorePatternError } from "./errors.js";
import { GitMatcher, parseGitignoreLine } from "./gitignore.js";
import { literalPattern, resticSupportsNegation, translateGitignoreLine } from "./translate.js";

const D = "/srv/data";
const tr = (line: string, dir = D) => translateGitignoreLine(line, dir).patterns;

describe("translateGitignoreLine", () => {
  it("anchors patterns with a leading or inner slash to the ignore file's directory", () => {
    expect(tr("/build")).toEqual(["/srv/data/build"]);
    expect(tr("docs/api")).toEqual(["/srv/data/docs/api"]);
    expect(tr("/docs/*.md")).toEqual(["/srv/data/docs/*.md"]);
  });

  it("lets patterns without a slash match at any depth below the directory", () => {
    expect(tr("*.log")).toEqual(["/srv/data/**/*.log"]);
    expect(tr("node_modules")).toEqual(["/srv/data/**/node_modules"]);
    expect(tr("*.log", "/")).toEqual(["/**/*.log"]);
  });

  it("translates ** in its three gitignore positions and treats other runs of * as *", () => {
    expect(tr("**/cache")).toEqual(["/srv/data/**/cache"]);
    expect(tr("a/**/b")).toEqual(["/srv/data/a/**/b"]);
    // "everything inside a" without a itself: restic's a/* also covers what is below.
    expect(tr("a/**")).toEqual(["/srv/data/a/*"]);
    expect(tr("/**")).toEqual(["/srv/data/*"]);
    expect(tr("**")).toEqual(["/srv/data/**/*"]);
    expect(tr("a**b/c")).toEqual(["/srv/data/a*b/c"]);
  });

  it("skips blank lines and comments, and keeps escaped # and !", () => {
    expect(tr("")).toEqual([]);
    expect(tr("   ")).toEqual([]);
    expect(tr("# a comment")).toEqual([]);
    expect(tr("\\#hash")).toEqual(["/srv/data/**/#hash"]);
    expect(tr("\\!bang")).toEqual(["/srv/data/**/!bang"]);
    expect(tr(" #not-a-comment")).toEqual(["/srv/data/**/ #not-a-comment"]);
  });

  it("drops unescaped trailing spaces and a CR, keeps escaped ones", () => {
    expect(tr("foo   ")).toEqual(["/srv/data/**/foo"]);
    expect(tr("foo\\ ")).toEqual(["/srv/data/**/foo "]);
    expect(tr("foo\\  ")).toEqual(["/srv/data/**/foo "]);
    expect(tr("foo\r")).toEqual(["/srv/data/**/foo"]);
  });

  it("negates with ! and marks directory-only patterns with a warning", () => {
    expect(tr("!keep.log")).toEqual(["!/srv/data/**/keep.log"]);
    const t = translateGitignoreLine("tmp/", D, { source: { file: "/srv/data/.ignore", line: 4 } });
    expect(t.patterns).toEqual(["/srv/data/**/tmp"]);
    expect(t.rule?.dirOnly).toBe(true);
    expect(t.warnings).toEqual([expect.stringContaining("/srv/data/.ignore:4")]);
    expect(t.warnings[0]).toMatch(/cannot limit a pattern to directories/);
    expect(translateGitignoreLine("tmp", D).warnings).toEqual([]);
  });

  it("writes classes so that Go accepts them, including ! negation and POSIX names", () => {
    expect(tr("[0-9]x")).toEqual(["/srv/data/**/[\\0-\\9]x"]);
    expect(tr("[!a-c]")).toEqual(["/srv/data/**/[^\\a-\\c]"]);
    expect(tr("[^a]")).toEqual(["/srv/data/**/[^\\a]"]);
    expect(tr("[]-]")).toEqual(["/srv/data/**/[\\]\\-]"]);
    expect(tr("[[:digit:]]")).toEqual(["/srv/data/**/[\\0-\\9]"]);
    expect(tr("\\*star")).toEqual(["/srv/data/**/\\*star"]);
  });

  it("escapes glob characters of the directory path", () => {
    expect(tr("x", "/srv/we[ir]d*?\\")).toEqual(["/srv/we\\[ir\\]d\\*\\?\\\\/**/x"]);
    expect(literalPattern("/a/b[1]/*")).toBe("/a/b\\[1\\]/\\*");
  });

  it("names file and line for what git rejects or restic cannot match", () => {
    const source = { file: "/srv/data/.snapbackignore", line: 7 };
    const bad = ["foo\\", "[abc", "[[:word:]]", "a/../b", "[a/b]"];
    for (const line of bad) {
      let caught: unknown;
      try {
        translateGitignoreLine(line, D, { source });
      } catch (e) {
        caught = e;
      }
      expect(caught, line).toBeInstanceOf(IgnorePatternError);
      expect((caught as IgnorePatternError).message).toMatch(/^\/srv\/data\/\.snapbackignore:7: /);
      expect((caught as IgnorePatternError).exitCode).toBe(2);
    }
  });

  it("refuses ! lines for a restic that cannot read negative patterns", () => {
    const source = { file: "/srv/data/.resticignore", line: 2 };
    expect(() => translateGitignoreLine("!keep", D, { source, resticVersion: "0.12.1" })).toThrow(
      /^\/srv\/data\/\.resticignore:2: re-including with "!" needs restic 0\.13\.0 or newer, this restic is 0\.12\.1/,
    );
    expect(tr("!keep")).toEqual(["!/srv/data/**/keep"]);
    expect(translateGitignoreLine("!keep", D, { resticVersion: "0.14.0" }).patterns).toEqual([
      "!/srv/data/**/keep",
    ]);
  });
});

describe("resticSupportsNegation", () => {
  it("is true from 0.13.0 on", () => {
    expect(resticSupportsNegation("0.12.1")).toBe(false);
    expect(resticSupportsNegation("0.13.0")).toBe(true);
    expect(resticSupportsNegation("0.14.0")).toBe(true);
    expect(resticSupportsNegation({ major: 0, minor: 19, patch: 0 })).toBe(true);
    expect(resticSupportsNegation("1.0.0")).toBe(true);
    expect(resticSupportsNegation("restic 0.9.6 compiled with go1.13")).toBe(false);
  });
});

describe("gitignore matching", () => {
  const m = (line: string) => {
    const rule = parseGitignoreLine(line);
    if (!rule) throw new Error("no rule");
    return new GitMatcher(rule);
  };
  const p = (s: string) => s.split("/");

  it("matches names at any depth, anchored paths only from the base", () => {
    expect(m("*.log").matches(p("a/b/x.log"), false)).toBe(true);
    expect(m("/x.log").matches(p("a/x.log"), false)).toBe(false);
    expect(m("a/*.c").matches(p("a/x.c"), false)).toBe(true);
    expect(m("a/*.c").matches(p("a/b/x.c"), false)).toBe(false);
  });

  it("gives ** its three meanings", () => {
    expect(m("**/foo").matches(p("foo"), true)).toBe(true);
    expect(m("**/foo").matches(p("x/y/foo"), true)).toBe(true);
    expect(m("a/**/b").matches(p("a/b"), false)).toBe(true);
    expect(m("a/**/b").matches(p("a/x/y/b"), false)).toBe(true);
    expect(m("a/**").matches(p("a"), true)).toBe(false);
    expect(m("a/**").matches(p("a/x/y"), false)).toBe(true);
  });

  it("applies directory-only rules to directories only", () => {
    expect(m("tmp/").matches(p("x/tmp"), true)).toBe(true);
    expect(m("tmp/").matches(p("x/tmp"), false)).toBe(false);
  });

  it("matches classes and ? on one character", () => {
    expect(m("[!a]?.c").matches(p("bx.c"), false)).toBe(true);
    expect(m("[!a]?.c").matches(p("ax.c"), false)).toBe(false);
    expect(m("?.c").matches(p("é.c"), false)).toBe(true);
  });
});
