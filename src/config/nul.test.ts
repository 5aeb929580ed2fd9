import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.js";
import { parseConfigText } from "./load.js";

/** A NUL cannot be passed to any process: the config is refused (exit 2) naming the key. */
const BASE = `[repositories.nas]
engine = "restic"
url = "/srv/restic"
password_file = "/etc/snapback/nas.pass"

[plans.home]
sources = ["/home"]
repositories = ["nas"]
`;

function problems(text: string): string[] {
  try {
    parseConfigText(text, "/etc/snapback/snapback.toml");
  } catch (e) {
    if (e instanceof ConfigError) {
      expect(e.exitCode).toBe(2);
      return [...e.problems];
    }
    throw e;
  }
  throw new Error("the config was accepted");
}

describe("NUL in a string that reaches argv or the environment", () => {
  it.each([
    [
      "schedule",
      `${BASE}schedule = "daily\\u0000"\n`,
      /line 9: plans\.home\.schedule: must not contain a NUL/,
    ],
    ["a tag", `${BASE}tags = ["a\\u0000b"]\n`, /plans\.home\.tags\[0\]: must not contain a NUL/],
    [
      "a hook's argv",
      `${BASE}[[plans.home.hooks]]\nwhen = "before"\nrun = ["echo", "x\\u0000"]\n`,
      /plans\.home\.hooks\[0\]\.run\[1\]: must not contain a NUL/,
    ],
    [
      "an env value",
      BASE.replace('url = "/srv/restic"', 'url = "/srv/restic"\nenv = { X = "s3cr\\u0000et" }'),
      /repositories\.nas\.env\.X: must not contain a NUL/,
    ],
    [
      "a restic option",
      BASE.replace(
        'url = "/srv/restic"',
        'url = "/srv/restic"\noptions = ["sftp.command=ssh\\u0000"]',
      ),
      /repositories\.nas\.options\[0\]: must not contain a NUL/,
    ],
  ])("%s", (_what, text, expected) => {
    const found = problems(text);
    expect(found.join("\n")).toMatch(expected);
    // The value itself is never quoted: it may be a secret.
    expect(found.join("\n")).not.toContain("s3cr");
  });

  it("a config without NUL is unaffected", () => {
    expect(() => parseConfigText(`${BASE}schedule = "daily"\n`)).not.toThrow();
  });
});
