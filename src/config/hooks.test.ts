import { describe, expect, it } from "vitest";
import { parseDuration } from "./duration.js";
import { effectiveOnError, hookSchema, hooksSchema } from "./hooks.js";

function problems(input: unknown): string[] {
  const r = hookSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

describe("hook schema", () => {
  it("fills the timeout default and keeps what the user wrote", () => {
    expect(hookSchema.parse({ when: "before", run: ["systemctl", "stop", "db"] })).toEqual({
      when: "before",
      run: ["systemctl", "stop", "db"],
      timeout: "5m",
    });
    expect(hooksSchema.parse(undefined)).toEqual([]);
  });

  it("wants exactly one of run and shell", () => {
    expect(problems({ when: "before" })).toEqual([
      ': needs a command: set run = ["program", "arg"] or shell = "command line"',
    ]);
    expect(problems({ when: "before", run: ["a"], shell: "a" })).toEqual([
      "shell: set either run or shell, not both",
    ]);
    expect(problems({ when: "before", run: [] })).toEqual(["run: must name a program"]);
    expect(problems({ when: "before", run: [""] })).toEqual(["run.0: must name a program"]);
    expect(problems({ when: "before", shell: "" })).toEqual(["shell: must not be empty"]);
  });

  it("refuses unknown points, keys, on_error values and bad timeouts", () => {
    expect(problems({ when: "after", shell: "x" })).toHaveLength(1);
    expect(problems({ when: "before", shell: "x", on_eror: "fail" })[0]).toMatch(/on_eror/);
    expect(problems({ when: "before", shell: "x", on_error: "ignore" })).toHaveLength(1);
    expect(problems({ when: "before", shell: "x", timeout: "30" })).toEqual([
      'timeout: must be a duration like "30s", "5m", "1h30m"',
    ]);
    expect(problems({ when: "before", shell: "x", timeout: "0s" })).toEqual([
      "timeout: must be longer than 0",
    ]);
    expect(problems({ when: "before", shell: "x", timeout: "25h" })).toEqual([
      "timeout: must be at most 24h",
    ]);
  });

  it("fails the run by default only around the snapshots", () => {
    expect(effectiveOnError({ when: "before" })).toBe("fail");
    expect(effectiveOnError({ when: "after_snapshot" })).toBe("fail");
    expect(effectiveOnError({ when: "success" })).toBe("continue");
    expect(effectiveOnError({ when: "failure" })).toBe("continue");
    expect(effectiveOnError({ when: "finally" })).toBe("continue");
    expect(effectiveOnError({ when: "before", on_error: "continue" })).toBe("continue");
    expect(effectiveOnError({ when: "finally", on_error: "fail" })).toBe("fail");
  });
});

describe("parseDuration", () => {
  it("reads compound durations and refuses anything else", () => {
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("5m")).toBe(300_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("250ms")).toBe(250);
    for (const bad of ["", "5", "5 m", "m", "1.5h", "-1s", "1d"]) {
      expect(parseDuration(bad)).toBeUndefined();
    }
  });
});
