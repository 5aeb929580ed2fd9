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
} from "./schema.js";
export {
  literalPattern,
  NEGATION_MIN_VERSION,
  resticSupportsNegation,
  translateGitignoreLine,
  type TranslatedLine,
  type TranslateOptions,
  type VersionLike,
} from "./translate.js";
