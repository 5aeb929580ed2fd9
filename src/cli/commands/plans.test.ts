import { describe, expect, test } from "vitest";
import { combineExitCodes } from "./plans.js";

describe("combineExitCodes: the worst plan's exit code", () => {
  test("interrupted beats everything", () => {
    expect(combineExitCodes([0, 2, 1, 130, 4, 3])).toBe(130);
  });
  test("a config error (2) beats a failure (1): retrying will not fix it", () => {
    expect(combineExitCodes([1, 2, 0])).toBe(2);
    expect(combineExitCodes([0, 2])).toBe(2);
  });
  test("failed beats locked, locked beats partial, partial beats success", () => {
    expect(combineExitCodes([3, 4, 1])).toBe(1);
    expect(combineExitCodes([3, 4, 0])).toBe(4);
    expect(combineExitCodes([0, 3])).toBe(3);
    expect(combineExitCodes([0, 0])).toBe(0);
  });
  test("an unknown code counts as a failure", () => {
    expect(combineExitCodes([0, 99])).toBe(1);
  });
});
