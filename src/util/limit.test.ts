import { describe, expect, test } from "vitest";
import { bothSettled, limiter } from "./limit.js";

/** A promise and the functions that settle it: the test decides when, no timers. */
function gate<T>(): { promise: Promise<T>; open: (v: T) => void; fail: (e: Error) => void } {
  let open: (v: T) => void = () => undefined;
  let fail: (e: Error) => void = () => undefined;
  const promise = new Promise<T>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

/** Lets every promise reaction already queued run (setImmediate comes after all microtasks). */
const drained = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("bothSettled", () => {
  test("both values, in order", async () => {
    expect(await bothSettled(Promise.resolve(1), Promise.resolve("b"))).toEqual([1, "b"]);
  });

  test("a failure waits for the sibling still running before it is thrown", async () => {
    const slow = gate<string>();
    let settled = false;
    const both = bothSettled(Promise.reject(new Error("target unreachable")), slow.promise).finally(
      () => (settled = true),
    );
    await drained();
    expect(settled).toBe(false);
    slow.open("source done");
    await expect(both).rejects.toThrow("target unreachable");
  });

  test("both failed: the first error is thrown, the second handed over", async () => {
    const also: unknown[] = [];
    await expect(
      bothSettled(Promise.reject(new Error("first")), Promise.reject(new Error("second")), (e) =>
        also.push(e),
      ),
    ).rejects.toThrow("first");
    expect(also.map((e) => (e as Error).message)).toEqual(["second"]);
  });

  test("only the second failed: its error", async () => {
    await expect(bothSettled(Promise.resolve(1), Promise.reject(new Error("b")))).rejects.toThrow(
      "b",
    );
  });
});

describe("limiter", () => {
  test("at most n at once; the others start in order as slots free", async () => {
    const limit = limiter(2);
    const gates = [gate<void>(), gate<void>(), gate<void>()];
    const started: number[] = [];
    const runs = gates.map((g, i) =>
      limit(async () => {
        started.push(i);
        await g.promise;
      }),
    );
    await drained();
    expect(started).toEqual([0, 1]);
    gates[1]?.open();
    await runs[1];
    await drained();
    expect(started).toEqual([0, 1, 2]);
    gates[0]?.open();
    gates[2]?.open();
    await Promise.all(runs);
  });
});
