import type { Dirent } from "node:fs";
import { lstat, open, readdir } from "node:fs/promises";
import { join } from "node:path";
import { errorMessage, UsageError } from "../errors.js";
import { normalizePath } from "../util/paths.js";
import type { PatternSource } from "./errors.js";
import { GitMatcher } from "./gitignore.js";
import { BadResticPattern, pathComponents, ResticPattern } from "./restic-match.js";
import {
  literalPattern,
  NEGATION_MIN_VERSION,
  resticSupportsNegation,
  translateGitignoreLine,
  versionText,
  type VersionLike,
} from "./translate.js";
import { limiter } from "../util/limit.js";

export interface IgnoreRoot {
  /** Where the tree is read: the snapshot, so ignore files are read as of the snapshot. */
  readFrom: string;
  /** Where restic sees `readFrom`: the source's original path. */
  original: string;
  /**
   * `readFrom` is a snapshot: it cannot change before restic reads it, so the rules are
   * resolved here and restic gets only the exact paths they exclude. A live tree (false, the
   * default) may change between the walk and the engine and gets the rules as patterns.
   */
  frozen?: boolean;
}

export interface CollectOptions {
  /** The restic that will read the patterns; without it negation is assumed to work. */
  resticVersion?: VersionLike;
  /** Directories read at once (default 16). */
  concurrency?: number;
  /**
   * Exact-path corrections allowed before the rules are refused (default 1000). restic 0.14
   * tests every path against every pattern once a `!` pattern is present: 10000 patterns
   * cost it about 5 s per 10000 files.
   */
  maxCorrections?: number;
  /**
   * Exact paths a frozen tree may resolve to (default 5000): restic tries every exclude
   * pattern on every path, so past this the rules go to restic as patterns instead.
   */
  maxExactPaths?: number;
  signal?: AbortSignal;
}

export interface CollectedIgnores {
  /** restic exclude patterns in order (write them with writeExcludeFile). */
  patterns: string[];
  /** The ignore files applied, as original paths. */
  files: string[];
  /** Lines or files that cannot be applied; the backup must not run with these. */
  errors: string[];
  /** Things the user may want to know; the patterns are still right. */
  warnings: string[];
  /** How many of `patterns` are exact-path corrections (see collectIgnorePatterns). */
  corrected: number;
  /** How many of `patterns` are paths a frozen tree's rules exclude (resolved by the walk). */
  resolved: number;
}

const MAX_IGNORE_FILE_BYTES = 1024 * 1024;

interface ActiveRule {
  git: GitMatcher;
  /** Absent in a frozen tree, where restic never sees the rule. */
  restic: ResticPattern | undefined;
  /** Depth of the ignore file's directory below the root. */
  baseDepth: number;
  source: PatternSource;
}

/** What one directory contributes, kept only when it contributes something. */
interface DirResult {
  patterns: string[];
  files: string[];
  corrections: string[];
  /** Frozen trees: the topmost excluded paths (literal patterns). */
  exact: string[];
  children: DirResult[];
}

/**
 * Finds every `fileName` under each root and turns its lines into restic exclude patterns,
 * anchored to the file's directory and written in original paths (gitignore semantics: a
 * pattern with a slash at the start or in the middle is relative to that directory, one
 * without matches at any depth below it; deeper files come later and so take precedence;
 * a directory that is excluded is not descended into, as git would not).
 *
 * restic reads `!` and directory-only patterns differently from git: restic's negation also
 * re-includes everything below the paths it matches (git re-evaluates each path), and restic
 * cannot limit a pattern to directories. The walk evaluates both readings for each entry of
 * the tree and, where they differ, appends an exact-path pattern (`/path` or `!/path`) that
 * makes restic agree with git. This is exact because restic backs up the very tree that was
 * walked (the snapshot). More than `maxCorrections` such paths is an error naming the rules.
 *
 * Does not follow symlinks (a symlinked ignore file is not read) and does not descend into
 * other filesystems.
 */
export async function collectIgnorePatterns(
  roots: readonly IgnoreRoot[],
  fileName: string,
  options: CollectOptions = {},
): Promise<CollectedIgnores> {
  if (fileName === "" || fileName === "." || fileName === ".." || fileName.includes("/")) {
    throw new UsageError(`ignore_file must be a plain file name, not ${JSON.stringify(fileName)}`);
  }
  const found = await collect(roots, fileName, options);
  const maxExact = options.maxExactPaths ?? 5000;
  if (found.resolved <= maxExact) return found;
  // So many excluded paths would cost restic more than the rules themselves.
  const asPatterns = await collect(
    roots.map((r) => ({ ...r, frozen: false })),
    fileName,
    options,
  );
  return {
    ...asPatterns,
    warnings: [
      ...asPatterns.warnings,
      `the ${fileName} rules exclude ${found.resolved} separate paths (more than ${maxExact}); they are given to restic as patterns`,
    ],
  };
}

/**
 * Frozen roots: the rules are decided here, on the snapshot, with git's semantics, and the
 * result is the topmost excluded directories and the excluded files outside them, as literal
 * paths: exact (the snapshot is what restic reads) and minimal (restic tests every pattern on
 * every path; an ignore file whose rules match nothing costs it nothing).
 *
 * Roots nested in another root (a nested btrfs subvolume is bound into the view at its
 * original path) are part of the parent's tree: the walk continues into them with the rules
 * it has, as git would, instead of stopping there as at another filesystem.
 */
async function collect(
  roots: readonly IgnoreRoot[],
  fileName: string,
  options: CollectOptions,
): Promise<CollectedIgnores> {
  const negation =
    options.resticVersion === undefined || resticSupportsNegation(options.resticVersion);
  const limit = limiter(options.concurrency ?? 16);
  const maxCorrections = options.maxCorrections ?? 1000;
  const errors: string[] = [];
  const warnings: string[] = [];
  let corrected = 0;
  const culprits = new Map<string, number>();
  let tooMany = false;
  /** Rules already reported as needing a newer restic: one message per rule. */
  const reported = new Set<string>();

  const blame = (rule: ActiveRule | undefined): void => {
    const key = rule ? `${rule.source.file}:${rule.source.line} (${rule.git.rule.text})` : "?";
    culprits.set(key, (culprits.get(key) ?? 0) + 1);
  };
  const addCorrection = (into: string[], pattern: string, rule: ActiveRule | undefined): void => {
    blame(rule);
    if (corrected >= maxCorrections) {
      tooMany = true;
      return;
    }
    corrected++;
    into.push(pattern);
  };

  async function readRules(
    file: string,
    originalFile: string,
    originalDir: string,
    baseDepth: number,
    frozen: boolean,
  ): Promise<{ rules: ActiveRule[]; patterns: string[] } | undefined> {
    let text: string;
    try {
      text = await limit(async () => {
        const handle = await open(file, "r");
        try {
          const { size } = await handle.stat();
          if (size > MAX_IGNORE_FILE_BYTES) {
            throw new Error(`larger than ${MAX_IGNORE_FILE_BYTES} bytes`);
          }
          return new TextDecoder("utf-8", { fatal: true }).decode(await handle.readFile());
        } finally {
          await handle.close();
        }
      });
    } catch (e) {
      const why =
        e instanceof TypeError ? "is not valid UTF-8" : `cannot be read: ${errorMessage(e)}`;
      errors.push(`${originalFile}: ${why}`);
      return undefined;
    }
    const rules: ActiveRule[] = [];
    const patterns: string[] = [];
    text.split("\n").forEach((line, i) => {
      const source = { file: originalFile, line: i + 1 };
      try {
        const t = translateGitignoreLine(
          i === 0 ? line.replace(/^\uFEFF/, "") : line,
          originalDir,
          {
            source,
            // A frozen tree's rules never reach restic: its version does not limit them.
            ...(options.resticVersion === undefined || frozen
              ? {}
              : { resticVersion: options.resticVersion }),
          },
        );
        const [pattern] = t.patterns;
        if (t.rule === undefined || pattern === undefined) return;
        if (frozen) {
          rules.push({ git: new GitMatcher(t.rule), restic: undefined, baseDepth, source });
          return;
        }
        let restic: ResticPattern;
        try {
          restic = new ResticPattern(pattern);
        } catch (e) {
          if (!(e instanceof BadResticPattern)) throw e;
          errors.push(
            `${source.file}:${source.line}: cannot be written as a restic pattern (${e.message})`,
          );
          return;
        }
        rules.push({ git: new GitMatcher(t.rule), restic, baseDepth, source });
        patterns.push(pattern);
      } catch (e) {
        errors.push(errorMessage(e));
      }
    });
    return { rules, patterns };
  }

  const byOriginal = new Map(roots.map((r) => [normalizePath(r.original), r]));
  /** Nested roots reached by their parent's walk; the others are walked on their own. */
  const reached = new Set<string>();
  const isBelow = (path: string, dir: string): boolean =>
    dir === "/" ? path !== "/" : path.startsWith(`${dir}/`);
  const nested = (r: IgnoreRoot): boolean => {
    const o = normalizePath(r.original);
    return [...byOriginal.keys()].some((other) => isBelow(o, other));
  };

  async function walkRoot(root: IgnoreRoot): Promise<DirResult | undefined> {
    const original = normalizePath(root.original);
    const originalComps = pathComponents(original);
    const originalOf = (rel: readonly string[]): string =>
      rel.length === 0 ? original : join(original, ...rel);
    let rootDev: number;
    try {
      const st = await lstat(root.readFrom);
      if (!st.isDirectory()) return undefined;
      rootDev = st.dev;
    } catch (e) {
      errors.push(`${original}: cannot look for ${fileName} files: ${errorMessage(e)}`);
      return undefined;
    }
    const rootFrozen = root.frozen === true;

    // Own rules first, then the ancestors' in reverse: the last rule that matches decides.
    const gitExcludes = (rules: readonly ActiveRule[], rel: readonly string[], isDir: boolean) => {
      for (let i = rules.length - 1; i >= 0; i--) {
        const r = rules[i] as ActiveRule;
        if (r.git.matches(rel.slice(r.baseDepth), isDir)) return !r.git.rule.negated;
      }
      return false;
    };
    const resticDecider = (rules: readonly ActiveRule[], comps: readonly string[]) => {
      for (let i = rules.length - 1; i >= 0; i--) {
        const r = rules[i] as ActiveRule;
        if (r.restic?.matches(comps)) return r;
      }
      return undefined;
    };

    async function scanDir(
      dir: string,
      rel: readonly string[],
      inherited: readonly ActiveRule[],
      dev: number,
      frozen: boolean,
    ): Promise<{ result: DirResult; children: Promise<DirResult | undefined>[] } | undefined> {
      options.signal?.throwIfAborted();
      let entries: Dirent[];
      try {
        entries = await limit(() => readdir(dir, { withFileTypes: true }));
      } catch (e) {
        warnings.push(
          `${originalOf(rel)}: cannot be read (${errorMessage(e)}); ${fileName} files below it are not applied`,
        );
        return undefined;
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const result: DirResult = {
        patterns: [],
        files: [],
        corrections: [],
        exact: [],
        children: [],
      };
      let rules = inherited;
      const ignore = entries.find((e) => e.name === fileName);
      if (ignore?.isFile()) {
        const originalFile = originalOf([...rel, fileName]);
        const read = await readRules(
          join(dir, fileName),
          originalFile,
          originalOf(rel),
          rel.length,
          frozen,
        );
        if (read) {
          result.files.push(originalFile);
          if (!frozen) result.patterns.push(...read.patterns);
          rules = [...inherited, ...read.rules];
        }
      } else if (ignore?.isSymbolicLink()) {
        warnings.push(
          `${originalOf([...rel, fileName])}: is a symbolic link, not followed; not applied`,
        );
      }

      const children: Promise<DirResult | undefined>[] = [];
      if (frozen) {
        for (const entry of entries) {
          const isDir = entry.isDirectory();
          const childRel = [...rel, entry.name];
          if (rules.length > 0 && gitExcludes(rules, childRel, isDir)) {
            // Nothing below an excluded directory is looked at, as git does not.
            result.exact.push(literalPattern(originalOf(childRel)));
          } else if (isDir) {
            children.push(visitChild(join(dir, entry.name), childRel, rules, dev, frozen));
          }
        }
        return { result, children };
      }

      // Without `!` and directory-only rules restic and git agree on every path, and only
      // directories need a verdict (to know whether to descend).
      const check = rules.some((r) => r.git.rule.negated || r.git.rule.dirOnly);
      for (const entry of entries) {
        const isDir = entry.isDirectory();
        if (!isDir && !check) continue;
        const childRel = [...rel, entry.name];
        const excluded = rules.length > 0 && gitExcludes(rules, childRel, isDir);
        if (check) {
          const decider = resticDecider(rules, [...originalComps, ...childRel]);
          const resticExcluded = decider?.restic !== undefined && !decider.restic.negated;
          const path = originalOf(childRel);
          if (excluded && !resticExcluded) {
            addCorrection(result.corrections, literalPattern(path), decider);
          } else if (!excluded && resticExcluded) {
            if (isDir) {
              // A guard: a restic pattern matching a directory comes from a rule git applies too.
              errors.push(
                `${decider.source.file}:${decider.source.line}: restic would exclude the directory ${path}, which gitignore keeps`,
              );
            } else if (!negation) {
              const key = `${decider.source.file}:${decider.source.line}`;
              if (reported.has(key)) continue;
              reported.add(key);
              errors.push(
                `${decider.source.file}:${decider.source.line}: "${decider.git.rule.text}" matches only directories, ` +
                  `but restic cannot limit a pattern to directories and ${path} is not one; re-including it needs ` +
                  `restic ${NEGATION_MIN_VERSION} or newer (this restic is ${versionText(options.resticVersion ?? "?")}): ` +
                  `drop the trailing "/" or upgrade restic`,
              );
            } else {
              addCorrection(result.corrections, `!${literalPattern(path)}`, decider);
            }
          }
        }
        if (isDir && !excluded) {
          children.push(visitChild(join(dir, entry.name), childRel, rules, dev, frozen));
        }
      }
      return { result, children };
    }

    async function visitChild(
      dir: string,
      rel: readonly string[],
      rules: readonly ActiveRule[],
      dev: number,
      frozen: boolean,
    ): Promise<DirResult | undefined> {
      const inner = byOriginal.get(originalOf(rel));
      if (inner !== undefined) {
        // A nested root (subvolume) where the snapshot holds only its empty placeholder:
        // the same tree goes on in the nested root's own snapshot.
        reached.add(normalizePath(inner.original));
        try {
          const st = await limit(() => lstat(inner.readFrom));
          return await visit(inner.readFrom, rel, rules, st.dev, inner.frozen === true);
        } catch (e) {
          warnings.push(`${originalOf(rel)}: ${errorMessage(e)}`);
          return undefined;
        }
      }
      try {
        const st = await limit(() => lstat(dir));
        if (st.dev !== dev) {
          warnings.push(
            `${originalOf(rel)}: another filesystem; ${fileName} files in it are not applied`,
          );
          return undefined;
        }
      } catch (e) {
        warnings.push(`${originalOf(rel)}: ${errorMessage(e)}`);
        return undefined;
      }
      return visit(dir, rel, rules, dev, frozen);
    }

    async function visit(
      dir: string,
      rel: readonly string[],
      rules: readonly ActiveRule[],
      dev: number,
      frozen: boolean,
    ): Promise<DirResult | undefined> {
      const scanned = await scanDir(dir, rel, rules, dev, frozen);
      if (!scanned) return undefined;
      const { result } = scanned;
      result.children = (await Promise.all(scanned.children)).filter(
        (c): c is DirResult => c !== undefined,
      );
      const empty =
        result.patterns.length === 0 &&
        result.files.length === 0 &&
        result.corrections.length === 0 &&
        result.exact.length === 0 &&
        result.children.length === 0;
      return empty ? undefined : result;
    }

    return visit(root.readFrom, [], [], rootDev, rootFrozen);
  }

  const results = await Promise.all(
    roots.map((r) => (nested(r) ? Promise.resolve(undefined) : walkRoot(r))),
  );
  // A nested root its parent's walk did not reach (below another filesystem): on its own,
  // in its place (the order of roots is the order of their patterns).
  for (const [i, r] of roots.entries()) {
    if (nested(r) && !reached.has(normalizePath(r.original))) results[i] = await walkRoot(r);
  }
  const patterns: string[] = [];
  const corrections: string[] = [];
  const exact: string[] = [];
  const files: string[] = [];
  const flatten = (r: DirResult): void => {
    patterns.push(...r.patterns);
    corrections.push(...r.corrections);
    exact.push(...r.exact);
    files.push(...r.files);
    r.children.forEach(flatten);
  };
  for (const r of results) if (r) flatten(r);

  if (tooMany) {
    const top = [...culprits.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([rule, n]) => `${rule}: ${n} paths`);
    errors.push(
      `more than ${maxCorrections} paths need an exact-path pattern because restic reads "!" and ` +
        `directory-only rules differently from gitignore; rewrite these rules (e.g. exclude directories ` +
        `instead of re-including inside them):\n  ${top.join("\n  ")}`,
    );
  }
  // Corrections go last: each names one path of the walked tree, so order among them is free,
  // and after every translated rule they have the last word for exactly that path.
  // Exact paths of frozen trees go last too: each is one path restic must leave out.
  return {
    patterns: [...patterns, ...corrections, ...exact],
    files,
    errors,
    warnings,
    corrected,
    resolved: exact.length,
  };
}
