import { describe, expect, test } from "vitest";
import { firstCause, interruptedCause } from "./finish.js";

function aborted(reason?: unknown): AbortSignal {
  const c = new AbortController();
  c.abort(reason);
  return c.signal;
}

const running = new AbortController().signal;

describe("firstCause: why a run did not succeed", () => {
  test("a repository's own reason, not a summary of it", () => {
    expect(
      firstCause({
        signal: running,
        fatal: undefined,
        failedRepositories: {
          local: 'repository "local": wrong password',
          nas: 'repository "nas" at rest:http://nas/ is unreachable',
        },
      }),
    ).toBe('repository "local": wrong password');
  });

  test("a run-wide failure comes first; nothing failed: no cause", () => {
    expect(
      firstCause({
        signal: running,
        fatal: "before hook stop-db exited with code 1",
        failedRepositories: { r: "x" },
      }),
    ).toBe("before hook stop-db exited with code 1");
    expect(
      firstCause({ signal: running, fatal: undefined, failedRepositories: {} }),
    ).toBeUndefined();
  });

  test("an interrupted run says by which signal, whatever failed after it", () => {
    expect(
      firstCause({
        signal: aborted(new Error("SIGINT")),
        fatal: undefined,
        failedRepositories: { r: 'restic backup for repository "r" was interrupted' },
      }),
    ).toBe("interrupted by SIGINT");
    expect(interruptedCause(aborted(new Error("SIGTERM")))).toBe("interrupted by SIGTERM");
    expect(interruptedCause(aborted())).toBe("interrupted");
    expect(interruptedCause(aborted(new Error("cancelled over the API")))).toBe("interrupted");
  });
});
