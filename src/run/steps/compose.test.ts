import { describe, expect, it } from "vitest";
import { DeferStack } from "../../core/defer.js";
import { Steps } from "./compose.js";
import type { RunStep } from "./types.js";

describe("Steps: a run's steps in order", () => {
  it("gives each step what the steps before it added, and their undo runs in reverse", async () => {
    const log: string[] = [];
    const first: RunStep<{ base: number }, { a: number }> = {
      name: "first",
      run: async ({ base }, unwind) => {
        unwind.defer("undo first", () => Promise.resolve(void log.push("undo first")));
        return Promise.resolve({ a: base + 1 });
      },
    };
    const second: RunStep<{ base: number; a: number }, { b: number }> = {
      name: "second",
      run: async ({ a }, unwind) => {
        unwind.defer("undo second", () => Promise.resolve(void log.push("undo second")));
        return Promise.resolve({ b: a * 10 });
      },
    };
    const steps = Steps.from<{ base: number }>().then(first).then(second);
    expect(steps.list.map((s) => s.name)).toEqual(["first", "second"]);
    let out;
    {
      await using unwind = new DeferStack(() => undefined);
      out = await steps.run({ base: 1 }, unwind);
      expect(log).toEqual([]);
    }
    expect(out).toEqual({ base: 1, a: 2, b: 20 });
    expect(log).toEqual(["undo second", "undo first"]);
  });

  it("stops at a failing step; what the earlier ones deferred is still undone", async () => {
    const log: string[] = [];
    const made: RunStep<object, object> = {
      name: "made",
      run: async (_ctx, unwind) => {
        unwind.defer("undo made", () => Promise.resolve(void log.push("undo made")));
        return Promise.resolve({});
      },
    };
    const fails: RunStep<object, object> = {
      name: "fails",
      run: () => Promise.reject(new Error("boom")),
    };
    const never: RunStep<object, object> = {
      name: "never",
      run: () => {
        log.push("never ran");
        return Promise.resolve({});
      },
    };
    const steps = Steps.from<object>().then(made).then(fails).then(never);
    {
      await using unwind = new DeferStack(() => undefined);
      await expect(steps.run({}, unwind)).rejects.toThrow("boom");
    }
    expect(log).toEqual(["undo made"]);
  });
});
