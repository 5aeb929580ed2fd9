import { mkdir } from "node:fs/promises";
import type { RepositoryEngine } from "../../engine/types.js";
import { SnapbackError } from "../../errors.js";
import { throwIfAborted } from "./abort.js";
import type { RunState, RunStep } from "./types.js";

/**
 * Ends the run early when no repository opened. Never shown: each repository already reported
 * its own failure, and the first of them is the run's cause (firstCause).
 */
export class NoRepositoryError extends SnapbackError {
  constructor() {
    super("no repository could be opened");
  }
}

/**
 * Every repository opened before the filesystem is touched: a wrong password or an unreachable
 * host should cost nothing, and fails before any `before` hook stops a service. A failing
 * repository does not stop the others; when none opens, the run ends here.
 */
export const openRepositories: RunStep<RunState, { ready: RepositoryEngine[] }> = {
  name: "open repositories",
  async run({ p, engines, signal, recordFailure }) {
    // A flag the engine's version lacks is a config error of the whole plan (exit 2).
    for (const engine of engines) await engine.checkPlanFlags?.(p.planName, p.plan);

    // Without a `before` hook or a dump, a wrong password found by the backup itself costs
    // a snapshot that is removed again: the engine may skip its pre-open then (the promise
    // that it fails before a hook stops a service holds whenever there is such a hook).
    const mayDefer =
      !p.plan.hooks.some((h) => h.when === "before") && p.plan.databases.length === 0;
    const ready: RepositoryEngine[] = [];
    for (const engine of engines) {
      throwIfAborted(signal);
      try {
        await engine.prepare(signal, { mayDefer });
        for (const dir of engine.writableDirs()) await mkdir(dir, { recursive: true, mode: 0o700 });
        ready.push(engine);
      } catch (e) {
        if (signal.aborted) throw e;
        recordFailure(engine.repoName, e);
      }
    }
    if (ready.length === 0) throw new NoRepositoryError();
    return { ready };
  },
};
