import type { Config } from "../../config/schema.js";
import { UsageError } from "../../errors.js";

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

/** Several plans' exit codes → one: interrupted, then failure, then lock, usage, partial. */
export function combineExitCodes(codes: number[]): number {
  for (const c of [130, 1, 4, 2, 3]) if (codes.includes(c)) return c;
  return codes.find((c) => c !== 0) ?? 0;
}
