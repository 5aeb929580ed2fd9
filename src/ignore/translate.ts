import { normalizePath } from "../util/paths.js";
import { IgnorePatternError, type PatternSource } from "./errors.js";
import { parseGitignoreLine, type GitignoreRule, type Segment, type Token } from "./gitignore.js";

/** restic accepts `!pattern` in exclude lists since 0.13.0 (restic issue #233). */
export const NEGATION_MIN_VERSION = "0.13.0";

export type VersionLike = string | { major: number; minor: number; patch: number };

function parseVersion(v: VersionLike): [number, number, number] | undefined {
  if (typeof v !== "string") return [v.major, v.minor, v.patch];
  const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

/** Does this restic version understand negative (`!`) exclude patterns? */
export function resticSupportsNegation(version: VersionLike): boolean {
  const v = parseVersion(version);
  if (!v) return false;
  const [major, minor] = v;
  return major > 0 || minor >= 13;
}

export function versionText(v: VersionLike): string {
  return typeof v === "string" ? v : `${v.major}.${v.minor}.${v.patch}`;
}

/** Go glob metacharacters; a literal one is written with a backslash. */
const GLOB_SPECIAL = new Set(["*", "?", "[", "]", "\\"]);

function literal(c: string): string {
  return GLOB_SPECIAL.has(c) ? `\\${c}` : c;
}

/** An absolute path as a restic pattern matching exactly that path (and what is below it). */
export function literalPattern(path: string): string {
  return Array.from(normalizePath(path)).map(literal).join("");
}

function classChar(c: string): string {
  // Go's class syntax rejects a bare '-' or ']' where it does not expect one; escaping
  // every character is always valid.
  return `\\${c}`;
}

function tokenText(t: Token): string {
  switch (t.t) {
    case "lit":
      return literal(t.c);
    case "star":
      return "*";
    case "any":
      return "?";
    case "class":
      return `[${t.negated ? "^" : ""}${t.ranges
        .map(([lo, hi]) => (lo === hi ? classChar(lo) : `${classChar(lo)}-${classChar(hi)}`))
        .join("")}]`;
  }
}

function segmentText(s: Segment, last: boolean): string {
  // gitignore's trailing `/**` is "everything inside", not the directory itself; restic's
  // `**` may match zero components, and a restic pattern also matches what is below a
  // match, so `dir/*` says exactly "everything inside".
  if (s.dstar) return last ? "*" : "**";
  return s.tokens.map(tokenText).join("");
}

/**
 * The restic pattern for a parsed gitignore rule from an ignore file in the directory that
 * restic sees as `dirOriginalPath`. Without the directory-only restriction, which restic
 * cannot express.
 */
export function resticPatternFor(rule: GitignoreRule, dirOriginalPath: string): string {
  const dir = normalizePath(dirOriginalPath);
  const base = dir === "/" ? "" : literalPattern(dir);
  const segments = rule.basename
    ? ["**", segmentText(rule.segments[0] ?? { dstar: true }, true)]
    : rule.segments.map((s, i) => segmentText(s, i === rule.segments.length - 1));
  return `${rule.negated ? "!" : ""}${base}/${segments.join("/")}`;
}

export interface TranslateOptions {
  /** Names the line in errors and warnings. */
  source?: PatternSource;
  /** The restic that will read the pattern; without it negation is assumed to work. */
  resticVersion?: VersionLike;
}

export interface TranslatedLine {
  /** restic exclude patterns (without the exclude-file escaping); empty for blank lines and comments. */
  patterns: string[];
  rule: GitignoreRule | undefined;
  warnings: string[];
}

export function negationUnsupported(
  rule: GitignoreRule,
  version: VersionLike,
  where?: PatternSource,
): IgnorePatternError {
  return new IgnorePatternError(
    rule.text,
    `re-including with "!" needs restic ${NEGATION_MIN_VERSION} or newer, this restic is ${versionText(version)}`,
    where,
    "upgrade restic, or rewrite the ignore file without '!' lines",
  );
}

/**
 * One gitignore line → restic pattern(s), anchored to the ignore file's directory.
 *
 * Directory-only patterns (`build/`): restic cannot limit a pattern to directories, so the
 * pattern is translated without that limit and a warning says so; collectIgnorePatterns,
 * which sees the actual tree, re-includes the non-directories it would wrongly exclude.
 *
 * Throws IgnorePatternError (naming file:line) for what git rejects or restic cannot match,
 * and for `!` lines when the restic version cannot read negative patterns.
 */
export function translateGitignoreLine(
  line: string,
  dirOriginalPath: string,
  options: TranslateOptions = {},
): TranslatedLine {
  const rule = parseGitignoreLine(line, options.source);
  if (!rule) return { patterns: [], rule: undefined, warnings: [] };
  if (
    rule.negated &&
    options.resticVersion !== undefined &&
    !resticSupportsNegation(options.resticVersion)
  ) {
    throw negationUnsupported(rule, options.resticVersion, options.source);
  }
  const warnings: string[] = [];
  if (rule.dirOnly) {
    const at = options.source ? `${options.source.file}:${options.source.line}: ` : "";
    warnings.push(
      `${at}"${rule.text}": restic cannot limit a pattern to directories, so it also matches files and symlinks of that name`,
    );
  }
  return { patterns: [resticPatternFor(rule, dirOriginalPath)], rule, warnings };
}
