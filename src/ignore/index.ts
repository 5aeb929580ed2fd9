/**
 * Ignore files (`ignore_file = ".snapbackignore"`, gitignore syntax) and restic's other
 * exclude options.
 *
 * How a run uses it:
 *   const ig = await collectIgnorePatterns(roots, plan.ignore_file, { resticVersion });
 *   if (ig.errors.length) throw new UsageError(...ig.errors)      // file:line for each
 *   const file = await writeExcludeFile(tmp, [...ig.patterns, ...plan.exclude, ...extraExcludes]);
 *   args.push(...resticExcludeArgs({ excludeFile: file, ... }));  // and remove `file` afterwards
 * restic puts --exclude patterns BEFORE --exclude-file patterns and the last matching pattern
 * wins, so a `!` line in a user's ignore file would re-include what --exclude removed.
 * Writing the plan's and snapback's own excludes after the ignore patterns, in the same file,
 * keeps them final.
 *
 * Decisions:
 * - `!` needs restic 0.13.0+ (restic #233); with an older restic each `!` line is an error
 *   naming file, line and the version needed.
 * - restic reads `!` and directory-only (`dir/`) patterns differently from git; the walk
 *   compares both readings on the snapshot's actual tree and appends exact-path patterns
 *   where they differ, so restic keeps exactly what git would. A directory-only rule matching
 *   a non-directory therefore needs negation too (an error before 0.13).
 * - What git rejects or restic cannot express (lone trailing `\`, unterminated `[`, unknown
 *   `[:class:]`, `/` inside a class, `.`/`..` components) is an error naming file:line.
 * - Like git: CRLF and a UTF-8 BOM are accepted, symlinked ignore files are not followed, an
 *   excluded directory is not descended into. Unlike git, `?` and classes match a character,
 *   not a byte (as restic does). Other filesystems below a source are not searched.
 */
export { resticExcludeArgs, type ExcludeOptions } from "./args.js";
export {
  collectIgnorePatterns,
  type CollectedIgnores,
  type CollectOptions,
  type IgnoreRoot,
} from "./collect.js";
export { IgnorePatternError, type PatternSource } from "./errors.js";
export { excludeFileLine, writeExcludeFile } from "./exclude-file.js";
export {
  excludeIfPresentSchema,
  excludeLargerThanSchema,
  ignoreFileSchema,
  ignorePlanKeys,
  parseResticSize,
} from "../config/ignore.js";
export {
  literalPattern,
  NEGATION_MIN_VERSION,
  resticSupportsNegation,
  translateGitignoreLine,
  type TranslatedLine,
  type TranslateOptions,
  type VersionLike,
} from "./translate.js";
