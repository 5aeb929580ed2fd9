import { describe, expect, it } from "vitest";
import { lineOfKey } from "./locate.js";

const TEXT = `# snapback config
state_dir = "/var/lib/snapback"   # trailing comment

[repositories.offsite]
engine = "restic"
url = "sftp:backup@nas:/srv/restic"
env = { AWS_ACCESS_KEY_ID = "x" }

[repositories."off.site"]
engine = "restic"

[plans.home]
sources = [
  "/home",
  "/srv",
]
repositories = ["offsite"]
note = """
sources = "not a key, inside a multi-line string"
"""
retention.keep_daily = 7

[plans.home.retention]
keep_weekly = 4

[plans.work]
sources = ["/work"]
'quoted.literal' = 1
`;

describe("lineOfKey", () => {
  it.each([
    { path: ["state_dir"], line: 2 },
    { path: ["repositories", "offsite"], line: 4 },
    { path: ["repositories", "offsite", "url"], line: 6 },
    // Inside an inline table: the line of the key that opens it.
    { path: ["repositories", "offsite", "env", "AWS_ACCESS_KEY_ID"], line: 7 },
    // A quoted header segment containing a dot is one key.
    { path: ["repositories", "off.site", "engine"], line: 10 },
    { path: ["plans", "home", "sources", 1], line: 13 },
    { path: ["plans", "home", "repositories", 0], line: 17 },
    // Dotted key inside a table.
    { path: ["plans", "home", "retention", "keep_daily"], line: 21 },
    { path: ["plans", "home", "retention", "keep_weekly"], line: 24 },
    // A missing key is reported at its table's header.
    { path: ["plans", "home", "retention", "keep_monthly"], line: 23 },
    { path: ["plans", "work", "sources"], line: 27 },
    { path: ["plans", "work", "quoted.literal"], line: 28 },
    { path: ["plans", "work", "exclude"], line: 26 },
  ])("$path → line $line", ({ path, line }) => {
    expect(lineOfKey(TEXT, path)).toBe(line);
  });

  it("ignores text inside multi-line strings", () => {
    // "sources = ..." on line 19 is string content; the real key is on line 13.
    expect(lineOfKey(TEXT, ["plans", "home", "sources"])).toBe(13);
  });

  it("does not match a key of another table with the same name", () => {
    expect(lineOfKey(TEXT, ["plans", "other", "sources"])).toBeUndefined();
    expect(lineOfKey(TEXT, ["engine"])).toBeUndefined();
  });

  it("returns undefined for an empty path or a path of indices only", () => {
    expect(lineOfKey(TEXT, [])).toBeUndefined();
    expect(lineOfKey(TEXT, [0])).toBeUndefined();
  });

  it("understands [[array of tables]] headers and top-level dotted keys", () => {
    const text = `plans.a.sources = ["/a"]\n[[hooks]]\nrun = "x"\n`;
    expect(lineOfKey(text, ["plans", "a", "sources"])).toBe(1);
    expect(lineOfKey(text, ["hooks", 0, "run"])).toBe(3);
  });
});
