export {
  backup,
  snapshotCreateArgs,
  parseProcessingError,
  backupDescription,
  newRunId,
} from "./backup.js";
export { probeKopia, parseKopiaVersion, type KopiaBinary } from "./binary.js";
export { check, verifyPercent, sourceArg, type CheckRequest } from "./check.js";
export {
  runKopia,
  failure,
  kopiaArgv,
  kopiaRepository,
  DEFAULT_KILL_GRACE_MS,
  type KopiaOptions,
  type KopiaRunOptions,
  type KopiaTarget,
  type KopiaRepository,
  type KopiaResult,
} from "./command.js";
export { kopiaEnv, secretValues } from "./env.js";
export {
  KopiaError,
  classifyFailure,
  failureKind,
  mainLine,
  type KopiaErrorKind,
} from "./errors.js";
export { listFiles, sampleFiles, restoreFiles } from "./files.js";
export { forget, maintenance, type ForgetOptions } from "./forget.js";
export {
  parseJsonValues,
  parseManifest,
  parseManifests,
  parseDirEntries,
  manifestErrorCount,
  rfc3339ToNs,
  type KopiaManifest,
  type KopiaStats,
  type KopiaDirSummary,
  type KopiaDirEntry,
} from "./messages.js";
export {
  policyCommands,
  ignoreRulesFor,
  literalRuleFor,
  retentionFlags,
  planKeepRules,
  type PolicyCommands,
} from "./policy.js";
export {
  ensureConnected,
  readClientConfig,
  parseClientConfig,
  type KopiaClientConfig,
} from "./repository.js";
export {
  restore,
  resolveSnapshots,
  planRestore,
  conflicts,
  restoreArgs,
  type RestoreRequest,
  type RestoreStep,
  type RestorePlan,
} from "./restore.js";
export {
  listSnapshots,
  toSnapshots,
  toSnapshot,
  engineSnapshot,
  sameRun,
  type KopiaSnapshot,
  type ListOptions,
} from "./snapshots.js";
export { backupTags, tagsFromKopia, PLAN_KEY, RUN_KEY } from "./tags.js";
