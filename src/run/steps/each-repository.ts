import type { RepositoryEngine } from "../../engine/types.js";
import type { RunStep, StepPreview } from "./types.js";

/** A step done once per repository, by `eachRepository`. */
export interface RepositoryStep<Needs extends object> {
  readonly name: string;
  readonly run: (ctx: Needs, engine: RepositoryEngine) => Promise<void>;
  readonly describe?: (preview: StepPreview) => string[];
}

/**
 * Runs `steps` for one repository after the other (all of the first repository's, then the
 * next's): a repository's dumps follow its own backup, not every backup.
 */
export function eachRepository<Needs extends object>(
  ...steps: readonly RepositoryStep<Needs>[]
): RunStep<Needs & { ready: readonly RepositoryEngine[] }, object> {
  return {
    name: `each repository: ${steps.map((s) => s.name).join(", ")}`,
    async run(ctx) {
      for (const engine of ctx.ready) for (const step of steps) await step.run(ctx, engine);
      return {};
    },
    describe: (preview) => steps.flatMap((s) => s.describe?.(preview) ?? []),
  };
}
