import type { Config } from "../../config/schema.js";
import { UsageError } from "../../errors.js";

/** An empty config is a mistake, not a valid setup that backs up nothing: exit 2. */
export function requirePlans(path: string, config: Config): void {
  if (Object.keys(config.plans).length === 0)
    throw new UsageError(`${path} defines no plans: nothing would be backed up`, {
      hint: 'add a [plans.NAME] table with sources = [...] and repositories = ["..."]',
    });
}

/** The plans a command acts on: the named ones (all must exist), or every plan. */
export function selectPlans(config: Config, names: string[]): string[] {
  const defined = Object.keys(config.plans);
  if (defined.length === 0) throw new UsageError("the config defines no plans ([plans.NAME])");
  if (names.length === 0) return defined;
  for (const n of names) {
    if (!defined.includes(n))
      throw new UsageError(`unknown plan "${n}" (defined: ${defined.join(", ")})`);
  }
  return [...new Set(names)];
}

/**
 * Worst first, for a command over several plans (README, "Exit codes"):
 * - 130 interrupted: the command itself was stopped; later plans did not run at all;
 * - 2 usage/config: someone must fix something, running again will not help;
 * - 1 failed: may be transient (an unreachable repository), the next run may succeed;
 * - 4 locked: another run is doing this plan's work right now;
 * - 3 partial: a backup exists, only some files are missing from it;
 * - 0 success.
 */
export const EXIT_SEVERITY = [130, 2, 1, 4, 3, 0] as const;

/** Several plans' exit codes → the worst of them (EXIT_SEVERITY); an unknown code counts as 1. */
export function combineExitCodes(codes: readonly number[]): number {
  const known = codes.map((c) => ((EXIT_SEVERITY as readonly number[]).includes(c) ? c : 1));
  for (const c of EXIT_SEVERITY) if (known.includes(c)) return c;
  return 0;
}
