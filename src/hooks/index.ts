export { HookRunner, hookName, describeHooks } from "./runner.js";
export type { HookCallbacks, HookLineInfo, HookRunnerOptions } from "./runner.js";
export { HookFailedError } from "./errors.js";
export type { HookOutcome } from "./outcome.js";
export type { RunFacts, HookRunStatus, HookRepositoryResult } from "./facts.js";
export {
  hookSchema,
  hooksSchema,
  effectiveOnError,
  HOOK_POINTS,
  DEFAULT_HOOK_TIMEOUT,
  type HookConfig,
  type HookWhen,
  type OnError,
} from "../config/hooks.js";
export { hookEnvironment } from "./env.js";
