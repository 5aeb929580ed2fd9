import { IgnorePatternError, type PatternSource } from "./errors.js";

/**
 * gitignore lines (git's dir.c and wildmatch.c, as documented in gitignore(5)) parsed into a
 * form that can be both matched here (to walk a tree the way git would) and written as a
 * restic pattern. Matching works on path components; `?` and classes match one character,
 * as restic's do (git compares bytes, which differs only for non-ASCII names).
 */

export type Token =
  | { t: "lit"; c: string }
  | { t: "star" }
  | { t: "any" }
  | { t: "class"; negated: boolean; ranges: readonly (readonly [string, string])[] };

export type Segment = { dstar: true } | { dstar: false; tokens: readonly Token[] };

export interface GitignoreRule {
  /** The pattern as written, after comment/space handling; for messages. */
  text: string;
  negated: boolean;
  /** A trailing `/`: only directories match. */
  dirOnly: boolean;
  /** No `/` except a trailing one: the rule matches a name at any depth below its directory. */
  basename: boolean;
  segments: readonly Segment[];
}

/** git's trim_trailing_spaces: trailing spaces go unless the first of them is escaped. */
function trimTrailingSpaces(s: string): string {
  let lastSpace = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === " ") {
      if (lastSpace < 0) lastSpace = i;
    } else if (c === "\\") {
      i++;
      if (i >= s.length) return s;
      lastSpace = -1;
    } else {
      lastSpace = -1;
    }
  }
  return lastSpace < 0 ? s : s.slice(0, lastSpace);
}

// POSIX classes of git's wildmatch, in the C locale git uses.
const POSIX_CLASSES: Record<string, readonly (readonly [string, string])[]> = {
  alnum: [
    ["0", "9"],
    ["A", "Z"],
    ["a", "z"],
  ],
  alpha: [
    ["A", "Z"],
    ["a", "z"],
  ],
  blank: [
    [" ", " "],
    ["\t", "\t"],
  ],
  cntrl: [
    ["\x00", "\x1f"],
    ["\x7f", "\x7f"],
  ],
  digit: [["0", "9"]],
  graph: [["\x21", "\x7e"]],
  lower: [["a", "z"]],
  print: [["\x20", "\x7e"]],
  punct: [
    ["\x21", "\x2f"],
    ["\x3a", "\x40"],
    ["\x5b", "\x60"],
    ["\x7b", "\x7e"],
  ],
  space: [
    ["\t", "\r"],
    [" ", " "],
  ],
  upper: [["A", "Z"]],
  xdigit: [
    ["0", "9"],
    ["A", "F"],
    ["a", "f"],
  ],
};

/**
 * Reads the class starting after `[` at `chars[start]`; returns it and the index after `]`.
 * As in wildmatch: `!` or `^` negates, a `]` right after the opening is literal, `-` between
 * two characters is a range and literal elsewhere, `\` escapes.
 */
function readClass(
  chars: readonly string[],
  start: number,
  fail: (reason: string) => never,
): [Token, number] {
  let i = start;
  let negated = false;
  if (chars[i] === "!" || chars[i] === "^") {
    negated = true;
    i++;
  }
  const ranges: (readonly [string, string])[] = [];
  let first = true;
  for (;;) {
    let c = chars[i];
    if (c === undefined) fail("unterminated character class '['");
    if (c === "]" && !first) return [{ t: "class", negated, ranges }, i + 1];
    first = false;
    if (c === "[" && chars[i + 1] === ":") {
      const close = chars.indexOf(":", i + 2);
      if (close > 0 && chars[close + 1] === "]") {
        const name = chars.slice(i + 2, close).join("");
        const cls = POSIX_CLASSES[name];
        if (!cls) fail(`unknown character class [:${name}:]`);
        ranges.push(...cls);
        i = close + 2;
        continue;
      }
    }
    if (c === "/") fail("a character class cannot contain '/'");
    if (c === "\\") {
      i++;
      c = chars[i];
      if (c === undefined) fail("unterminated character class '['");
    }
    i++;
    let hi = c;
    if (chars[i] === "-" && chars[i + 1] !== undefined && chars[i + 1] !== "]") {
      i++;
      let h = chars[i];
      if (h === "\\") {
        i++;
        h = chars[i];
        if (h === undefined) fail("unterminated character class '['");
      }
      if (h === "/") fail("a character class cannot contain '/'");
      hi = h as string;
      i++;
    }
    ranges.push([c, hi]);
  }
}

function tokenize(pattern: string, fail: (reason: string) => never): Token[][] {
  const chars = Array.from(pattern);
  const segments: Token[][] = [[]];
  let current = segments[0] as Token[];
  for (let i = 0; i < chars.length;) {
    const c = chars[i] as string;
    if (c === "\\") {
      const next = chars[i + 1];
      if (next === undefined) fail("a pattern cannot end with a lone backslash");
      if (next === "/") {
        current = [];
        segments.push(current);
      } else {
        current.push({ t: "lit", c: next });
      }
      i += 2;
    } else if (c === "/") {
      current = [];
      segments.push(current);
      i++;
    } else if (c === "*") {
      current.push({ t: "star" });
      i++;
    } else if (c === "?") {
      current.push({ t: "any" });
      i++;
    } else if (c === "[") {
      const [token, next] = readClass(chars, i + 1, fail);
      current.push(token);
      i = next;
    } else {
      current.push({ t: "lit", c });
      i++;
    }
  }
  return segments;
}

function isAllStars(tokens: readonly Token[]): boolean {
  return tokens.every((t) => t.t === "star");
}

/** `**` is special only as a whole segment; elsewhere a run of stars is one `*`. */
function toSegment(tokens: readonly Token[]): Segment {
  if (tokens.length >= 2 && isAllStars(tokens)) return { dstar: true };
  const collapsed: Token[] = [];
  for (const t of tokens) {
    if (t.t === "star" && collapsed.at(-1)?.t === "star") continue;
    collapsed.push(t);
  }
  return { dstar: false, tokens: collapsed };
}

/**
 * Parses one line of an ignore file; undefined for blank lines, comments and lines that can
 * match nothing (`!`, `/`). Throws IgnorePatternError for what git would reject or restic
 * cannot match.
 */
export function parseGitignoreLine(raw: string, where?: PatternSource): GitignoreRule | undefined {
  // git drops the CR of CRLF line ends; a comment is a `#` in the first column.
  let line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
  if (line.startsWith("#")) return undefined;
  line = trimTrailingSpaces(line);
  if (line === "") return undefined;
  const fail = (reason: string): never => {
    throw new IgnorePatternError(line, reason, where);
  };
  if (line.includes("\n")) fail("a pattern cannot contain a newline");

  let body = line;
  const negated = body.startsWith("!");
  if (negated) body = body.slice(1);
  const dirOnly = body.endsWith("/");
  if (dirOnly) body = body.slice(0, -1);
  if (body === "") return undefined;
  const basename = !body.includes("/");

  const rawSegments = tokenize(body, fail);
  // A leading `/` only anchors; `a//b` is read as `a/b`, as restic would clean it.
  const segments = rawSegments.filter((s) => s.length > 0).map(toSegment);
  if (segments.length === 0) return undefined;
  for (const s of segments) {
    if (s.dstar) continue;
    const text = s.tokens.map((t) => (t.t === "lit" ? t.c : "?")).join("");
    const allLit = s.tokens.every((t) => t.t === "lit");
    if (allLit && (text === "." || text === "..")) {
      fail(`"${text}" path components never match a file (restic would even resolve them away)`);
    }
  }
  return { text: line, negated, dirOnly, basename, segments };
}

// ---- matching, with git's semantics, on path components ----

function regexChar(c: string): string {
  return `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`;
}

/** A JS regex for one component; shared by the git matcher and the restic model. */
export function tokensToRegExp(tokens: readonly Token[]): RegExp {
  let src = "";
  for (const t of tokens) {
    switch (t.t) {
      case "lit":
        src += regexChar(t.c);
        break;
      case "star":
        src += "[^/]*";
        break;
      case "any":
        src += "[^/]";
        break;
      case "class": {
        // A reversed range matches nothing in git and Go alike; JS would reject it.
        const valid = t.ranges.filter(
          ([lo, hi]) => (lo.codePointAt(0) ?? 0) <= (hi.codePointAt(0) ?? 0),
        );
        if (valid.length === 0) {
          src += t.negated ? "[^/]" : "(?!)";
          break;
        }
        const body = valid
          .map(([lo, hi]) => (lo === hi ? regexChar(lo) : `${regexChar(lo)}-${regexChar(hi)}`))
          .join("");
        src += t.negated ? `[^/${body}]` : `[${body}]`;
        break;
      }
    }
  }
  return new RegExp(`^${src}$`, "u");
}

/** A rule compiled for matching entries below the directory of its ignore file. */
export class GitMatcher {
  private readonly regexps: (RegExp | undefined)[];

  constructor(readonly rule: GitignoreRule) {
    this.regexps = rule.segments.map((s) => (s.dstar ? undefined : tokensToRegExp(s.tokens)));
  }

  /** `rel`: the entry's path components relative to the ignore file's directory (non-empty). */
  matches(rel: readonly string[], isDir: boolean): boolean {
    if (this.rule.dirOnly && !isDir) return false;
    if (this.rule.basename) {
      const re = this.regexps[0];
      return re === undefined || re.test(rel[rel.length - 1] ?? "");
    }
    return this.matchFrom(0, rel, 0);
  }

  private matchFrom(pi: number, rel: readonly string[], si: number): boolean {
    const segs = this.rule.segments;
    if (pi === segs.length) return si === rel.length;
    if (segs[pi]?.dstar) {
      // A trailing `/**` matches everything inside (one or more components), a leading or
      // inner one zero or more directories.
      if (pi === segs.length - 1) return si < rel.length;
      for (let k = si; k <= rel.length; k++) if (this.matchFrom(pi + 1, rel, k)) return true;
      return false;
    }
    const re = this.regexps[pi];
    const name = rel[si];
    return (
      name !== undefined && re !== undefined && re.test(name) && this.matchFrom(pi + 1, rel, si + 1)
    );
  }
}
