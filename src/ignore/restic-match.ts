import { posix } from "node:path";

/**
 * A model of how restic (internal/filter, 0.13 and later) decides that a path is excluded,
 * so the walk can find where restic's reading of the generated patterns would differ from
 * gitignore's and correct it. What it models:
 * - a pattern is cleaned like a path and split into components; `**` as a whole component
 *   stands for zero or more components, other components are Go filepath.Match globs;
 * - an absolute pattern matches a path when it matches the path's first components, i.e. it
 *   matches a path and everything below it; a relative one may match anywhere in the path;
 * - `!pattern` cancels earlier matches, so the last pattern that matches decides.
 */

type Part =
  | { kind: "root" }
  | { kind: "dstar" }
  | { kind: "literal"; text: string }
  | { kind: "glob"; re: RegExp };

const STAR: Part = { kind: "glob", re: /^[^/]*$/u };

export class BadResticPattern extends Error {}

function reChar(c: string): string {
  return `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`;
}

/** Go's path/filepath.Match syntax (Unix), for one component, as a JS regex. */
export function goGlobToRegExp(glob: string): RegExp {
  const chars = Array.from(glob);
  const bad = (): never => {
    throw new BadResticPattern(`invalid pattern component ${JSON.stringify(glob)}`);
  };
  // getEsc: one possibly escaped character of a class; '-' and ']' must be escaped there.
  const esc = (i: number): [string, number] => {
    let c = chars[i];
    if (c === undefined || c === "-" || c === "]") bad();
    if (c === "\\") {
      i++;
      c = chars[i];
      if (c === undefined) bad();
    }
    if (chars[i + 1] === undefined) bad();
    return [c as string, i + 1];
  };
  let src = "";
  for (let i = 0; i < chars.length;) {
    const c = chars[i] as string;
    if (c === "*") {
      src += "[^/]*";
      i++;
    } else if (c === "?") {
      src += "[^/]";
      i++;
    } else if (c === "\\") {
      const next = chars[i + 1];
      if (next === undefined) bad();
      src += reChar(next as string);
      i += 2;
    } else if (c === "[") {
      i++;
      let negated = false;
      if (chars[i] === "^") {
        negated = true;
        i++;
      }
      const ranges: string[] = [];
      for (let n = 0; ; n++) {
        if (chars[i] === "]" && n > 0) {
          i++;
          break;
        }
        let lo: string;
        let hi: string;
        [lo, i] = esc(i);
        hi = lo;
        if (chars[i] === "-") [hi, i] = esc(i + 1);
        // Go tests lo <= r <= hi: a reversed range matches nothing.
        if ((lo.codePointAt(0) ?? 0) <= (hi.codePointAt(0) ?? 0)) {
          ranges.push(lo === hi ? reChar(lo) : `${reChar(lo)}-${reChar(hi)}`);
        }
      }
      const body = ranges.join("");
      if (negated) src += `[^/${body}]`;
      else src += body === "" ? "(?!)" : `[${body}]`;
    } else {
      src += reChar(c);
      i++;
    }
  }
  return new RegExp(`^${src}$`, "u");
}

function cleanPattern(p: string): string {
  const n = posix.normalize(p === "" ? "." : p);
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}

export class ResticPattern {
  readonly negated: boolean;
  readonly parts: readonly Part[];

  /** Throws BadResticPattern where restic would refuse the pattern. */
  constructor(readonly text: string) {
    this.negated = text.startsWith("!");
    const body = cleanPattern(this.negated ? text.slice(1) : text);
    const comps = body.split("/");
    this.parts = comps.map((c, i): Part => {
      if (i === 0 && c === "") return { kind: "root" };
      if (c === "**") return { kind: "dstar" };
      if (!/[\\[\]*?]/.test(c)) return { kind: "literal", text: c };
      return { kind: "glob", re: goGlobToRegExp(c) };
    });
  }

  /** Does the pattern (ignoring its `!`) match `comps`, an absolute path's components? */
  matches(comps: readonly string[]): boolean {
    return matchParts(this.parts, ["/", ...comps]);
  }
}

function partMatches(p: Part, s: string): boolean {
  switch (p.kind) {
    case "root":
      return s === "/";
    case "literal":
      return p.text === s;
    case "glob":
      return p.re.test(s);
    case "dstar":
      return false;
  }
}

function matchParts(parts: readonly Part[], strs: readonly string[]): boolean {
  const dstar = parts.findIndex((p) => p.kind === "dstar");
  if (dstar >= 0) {
    const head = parts.slice(0, dstar);
    const tail = parts.slice(dstar + 1);
    for (let n = 0; n <= strs.length - parts.length + 1; n++) {
      if (matchParts([...head, ...Array<Part>(n).fill(STAR), ...tail], strs)) return true;
    }
    return false;
  }
  if (parts.length === 0) return strs.length === 0;
  if (parts.length > strs.length) return false;
  let minOffset = 0;
  let maxOffset = strs.length - parts.length;
  if (parts[0]?.kind === "root") maxOffset = 0;
  else if (strs[0] === "/") minOffset = 1;
  outer: for (let offset = maxOffset; offset >= minOffset; offset--) {
    for (let i = parts.length - 1; i >= 0; i--) {
      if (!partMatches(parts[i] as Part, strs[offset + i] ?? "")) continue outer;
    }
    return true;
  }
  return false;
}

/**
 * restic's verdict for one path under a list of exclude patterns: the last pattern that
 * matches decides, excluded unless it is negated.
 */
export function resticExcludes(
  patterns: readonly ResticPattern[],
  comps: readonly string[],
): boolean {
  for (let i = patterns.length - 1; i >= 0; i--) {
    const p = patterns[i] as ResticPattern;
    if (p.matches(comps)) return !p.negated;
  }
  return false;
}

/** The components of an absolute path: "/a/b" → ["a", "b"], "/" → []. */
export function pathComponents(absolute: string): string[] {
  return absolute.split("/").filter((c) => c !== "");
}
