import { describe, expect, it } from "vitest";
import { DeferStack } from "./defer.js";

describe("DeferStack", () => {
  it("unwinds in reverse, and every step runs although one failed", async () => {
    const log: string[] = [];
    const errors: string[] = [];
    {
      await using stack = new DeferStack((what) => errors.push(what));
      stack.defer("a", () => Promise.resolve(void log.push("a")));
      stack.defer("b", () => Promise.reject(new Error("b failed")));
      stack.defer("c", () => Promise.resolve(void log.push("c")));
    }
    expect(log).toEqual(["c", "a"]);
    expect(errors).toEqual(["b"]);
  });

  it("a step started early runs once; the unwind awaits it and reports its failure", async () => {
    const log: string[] = [];
    const errors: string[] = [];
    let finish = (): void => undefined;
    {
      await using stack = new DeferStack((what, e) => errors.push(`${what}: ${String(e)}`));
      stack.defer("a", () => Promise.resolve(void log.push("a")));
      const early = stack.defer("b", async () => {
        log.push("b started");
        await new Promise<void>((resolve) => (finish = resolve));
        log.push("b done");
        throw new Error("gone wrong");
      });
      void early().catch(() => undefined);
      void early().catch(() => undefined);
      expect(log).toEqual(["b started"]);
      // The unwind reaches "b" first and must wait for the run already under way.
      setImmediate(() => finish());
    }
    expect(log).toEqual(["b started", "b done", "a"]);
    expect(errors).toEqual(["b: Error: gone wrong"]);
  });
});
