import type { AnyStep, RunStep, Unwind } from "./types.js";

/**
 * Steps run in order, each given the context so far plus what the steps before it added. The
 * types check the order: a step that needs what a later one adds does not compile.
 */
export class Steps<In extends object, Out extends object> {
  private constructor(readonly list: readonly AnyStep[]) {}

  static from<In extends object>(): Steps<In, In> {
    return new Steps<In, In>([]);
  }

  then<Adds extends object>(step: RunStep<Out, Adds>): Steps<In, Out & Adds> {
    return new Steps<In, Out & Adds>([...this.list, step]);
  }

  /** Nothing runs between two steps: a step that must follow another (snapshots after `before` hooks) does so at once. */
  async run(ctx: In, unwind: Unwind): Promise<Out> {
    const acc: object = { ...ctx };
    for (const step of this.list) Object.assign(acc, await step.run(acc as never, unwind));
    return acc as Out;
  }
}
