import { describe, expect, it } from "vitest";
import { newestCommon } from "./common-parent.js";

describe("the parent of an incremental send", () => {
  const source = [
    { name: "s1", sendId: "u1", order: 10 },
    { name: "s2", sendId: "u2", order: 20 },
    { name: "s3", sendId: "u3", order: 30 },
  ];

  it("is the newest source snapshot the target has received", () => {
    expect(newestCommon(source, new Set(["u1", "u2", "u3"]))?.name).toBe("s3");
    expect(newestCommon(source, new Set(["u1", "u2"]))?.name).toBe("s2");
    // The newest on the target is gone from the source: an older shared one still serves.
    expect(newestCommon(source.slice(0, 2), new Set(["u1", "u2", "u3"]))?.name).toBe("s2");
  });

  it("matches by identity, never by name", () => {
    expect(newestCommon(source, new Set(["s3", "s2"]))).toBeUndefined();
    expect(newestCommon(source, new Set())).toBeUndefined();
    expect(newestCommon([], new Set(["u1"]))).toBeUndefined();
  });
});
