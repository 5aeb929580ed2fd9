import * as z from "../util/zod.js";
import { MAX_HOOK_TIMEOUT_MS, parseDuration } from "./duration.js";

/**
 * `[[plans.NAME.hooks]]`: commands run at five points of a backup run. The lead wires
 * `hooksSchema` into the plan schema as `hooks: hooksSchema`.
 *
 * Only refinements, no transforms: the config loader walks the schema for "did you mean"
 * hints, and `config show` prints what the user wrote. Defaults that depend on `when`
 * (on_error) are resolved by `effectiveOnError`.
 */

/**
 * - `before`: before any snapshot is taken (stop or quiesce a service).
 * - `after_snapshot`: right after the snapshots exist, before the engine runs (restart it);
 *   also runs when taking the snapshots failed, so a stopped service always comes back.
 * - `success`: the run ended `success` or `partial` (a backup exists).
 * - `failure`: the run ended `failed` or `interrupted`.
 * - `finally`: always, last.
 */
export const HOOK_POINTS = ["before", "after_snapshot", "success", "failure", "finally"] as const;
export type HookWhen = (typeof HOOK_POINTS)[number];

export const DEFAULT_HOOK_TIMEOUT = "5m";

const duration = z.string().superRefine((text, ctx) => {
  const ms = parseDuration(text);
  const problem =
    ms === undefined
      ? 'must be a duration like "30s", "5m", "1h30m"'
      : ms === 0
        ? "must be longer than 0"
        : ms > MAX_HOOK_TIMEOUT_MS
          ? "must be at most 24h"
          : undefined;
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

export const hookSchema = z
  .strictObject({
    when: z.enum(HOOK_POINTS),
    /** Shown in messages; default: the command. */
    name: z.string().min(1, "must not be empty").optional(),
    /** Program and arguments, run without a shell. */
    run: z.array(z.string()).min(1, "must name a program").optional(),
    /** A shell command line, run as /bin/sh -c "…". */
    shell: z.string().min(1, "must not be empty").optional(),
    timeout: duration.default(DEFAULT_HOOK_TIMEOUT),
    /** Default: `fail` for before/after_snapshot, `continue` for success/failure/finally. */
    on_error: z.enum(["fail", "continue"]).optional(),
  })
  .superRefine((hook, ctx) => {
    if (hook.run === undefined && hook.shell === undefined) {
      ctx.addIssue({
        code: "custom",
        path: [],
        message: 'needs a command: set run = ["program", "arg"] or shell = "command line"',
      });
    } else if (hook.run !== undefined && hook.shell !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["shell"],
        message: "set either run or shell, not both",
      });
    }
    if (hook.run?.[0] === "") {
      ctx.addIssue({ code: "custom", path: ["run", 0], message: "must name a program" });
    }
  });

export const hooksSchema = z.array(hookSchema).default([]);

export type HookConfig = z.infer<typeof hookSchema>;
export type OnError = "fail" | "continue";

/**
 * A failing `before` hook means the service may not be quiescent, and a failing
 * `after_snapshot` hook means it may not be running again: both deserve a failed run.
 * By the time success/failure/finally run, the backup's outcome is decided; their failure is
 * reported as a warning unless the user asks otherwise.
 */
export function effectiveOnError(hook: Pick<HookConfig, "when" | "on_error">): OnError {
  return (
    hook.on_error ??
    (hook.when === "before" || hook.when === "after_snapshot" ? "fail" : "continue")
  );
}
