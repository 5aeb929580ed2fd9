import { afterEach, describe, expect, it, vi } from "vitest";
import { watchRetries } from "./retry-watch.js";

// restic 0.18's own words for a REST server that is down.
const REFUSED =
  'Stat(<config/>) returned error, retrying after 1.123s: Head "http://127.0.0.1:9/r/config": dial tcp 127.0.0.1:9: connect: connection refused';
const TIMEOUT =
  'Save(<data/1a2b>) returned error, retrying after 2.5s: Post "http://127.0.0.1:9/r/data/1a2b": net/http: timeout awaiting response headers';

afterEach(() => {
  vi.useRealTimers();
});

describe("watchRetries", () => {
  it("gives up at the first refused connection before the repository answered", () => {
    const stop = vi.fn();
    const w = watchRetries("r", stop);
    w.stderr(REFUSED);
    expect(stop).toHaveBeenCalledTimes(1);
    expect(w.gaveUp).toBe("restic cannot reach it (connect: connection refused)");
    w.dispose();
  });

  it("after the repository answered, lets restic retry until the deadline, then gives up", () => {
    vi.useFakeTimers();
    const stop = vi.fn();
    const w = watchRetries("r", stop, 60_000);
    w.stderr("repository 1a2b3c4d opened (version 2, compression level auto)");
    w.stderr(REFUSED);
    w.stderr(TIMEOUT);
    expect(stop).not.toHaveBeenCalled();
    vi.advanceTimersByTime(59_999);
    expect(stop).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(stop).toHaveBeenCalledTimes(1);
    expect(w.gaveUp).toBe("still failing after 60 s of retries");
    w.dispose();
  });

  it("ignores other lines and a retry that never outlives the deadline", () => {
    vi.useFakeTimers();
    const stop = vi.fn();
    const w = watchRetries("r", stop, 1_000);
    w.stdout();
    w.stderr("some unrelated line: connection refused");
    w.stderr(REFUSED);
    w.dispose();
    vi.advanceTimersByTime(10_000);
    expect(stop).not.toHaveBeenCalled();
    expect(w.gaveUp).toBeUndefined();
  });
});
