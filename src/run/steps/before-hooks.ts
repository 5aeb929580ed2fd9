import { describeHooks } from "../../hooks/index.js";
import type { RunState, RunStep } from "./types.js";
import type { Started } from "./start.js";

/**
 * The `before` hooks (services quiesced for the snapshots). Their counterpart, `after_snapshot`,
 * runs at the end of `snapshots`; when a `before` hook fails or the run is interrupted here, it
 * runs at once, so that a service stopped by an earlier hook is started again.
 */
export const beforeHooks: RunStep<RunState & Started, object> = {
  name: "before hooks",
  async run({ hooks, facts, signal }) {
    try {
      await hooks.run("before", facts, signal);
    } catch (e) {
      await hooks.afterSnapshot(facts, { error: e });
      throw e;
    }
    return {};
  },
  describe: ({ p }) => hookLines(p.plan.hooks.filter((h) => h.when === "before")),
};

/** Hook lines as `--dry-run` has always printed them. */
export function hookLines(hooks: Parameters<typeof describeHooks>[0]): string[] {
  return describeHooks(hooks).map((h) => `  hook: ${h}`);
}
