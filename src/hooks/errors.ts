import { SnapbackError } from "../errors.js";
import type { HookOutcome } from "./outcome.js";
import type { HookWhen } from "../config/hooks.js";

/** A hook with on_error = "fail" failed (exit status, signal, timeout or not startable). Exit 1. */
export class HookFailedError extends SnapbackError {
  readonly when: HookWhen;
  /** Every failed hook of this point whose on_error is "fail", in the order they ran. */
  readonly failures: readonly HookOutcome[];
  /** Every hook of this point that ran, failed or not. */
  readonly outcomes: readonly HookOutcome[];

  constructor(when: HookWhen, failures: readonly HookOutcome[], outcomes: readonly HookOutcome[]) {
    const first = failures[0];
    const more =
      failures.length > 1 ? ` (and ${failures.length - 1} more ${when} hooks failed)` : "";
    super(`${first?.error ?? `${when} hook failed`}${more}`, { exitCode: 1, hint: hintFor(when) });
    this.when = when;
    this.failures = failures;
    this.outcomes = outcomes;
  }
}

function hintFor(when: HookWhen): string {
  const allow = 'set on_error = "continue" on the hook to carry on regardless';
  switch (when) {
    case "before":
      return `no snapshot was taken and nothing was backed up; ${allow}`;
    case "after_snapshot":
      return `the snapshots were taken but nothing was backed up; ${allow}`;
    default:
      return allow;
  }
}
