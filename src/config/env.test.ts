import { describe, expect, test } from "vitest";
import { UsageError } from "../errors.js";
import { applyEnvironment } from "./env.js";
import { parseConfigText } from "./load.js";

const config = parseConfigText('state_dir = "/var/lib/from-config"\n');

describe("environment overrides", () => {
  test("SNAPBACK_STATE_DIR replaces state_dir; unset or empty leaves the config's", () => {
    expect(applyEnvironment(config, { SNAPBACK_STATE_DIR: "/tmp/s" }).state_dir).toBe("/tmp/s");
    expect(applyEnvironment(config, {}).state_dir).toBe("/var/lib/from-config");
    expect(applyEnvironment(config, { SNAPBACK_STATE_DIR: "" }).state_dir).toBe(
      "/var/lib/from-config",
    );
  });

  test("a relative path or a NUL is a usage error naming the variable", () => {
    expect(() => applyEnvironment(config, { SNAPBACK_STATE_DIR: "rel/dir" })).toThrow(
      new UsageError('SNAPBACK_STATE_DIR: "rel/dir" must be an absolute path'),
    );
    expect(() => applyEnvironment(config, { SNAPBACK_STATE_DIR: "/a\0b" })).toThrow(
      /SNAPBACK_STATE_DIR: contains a NUL/,
    );
  });
});
