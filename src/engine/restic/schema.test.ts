import { describe, expect, it } from "vitest";
import { parseConfigText } from "../../config/load.js";
import { ConfigError, UsageError } from "../../errors.js";
import type { ResticBinary } from "./binary.js";
import { backupArgs } from "./backup.js";
import { extraArgProblem } from "../../config/restic.js";
import { planBackupTuningArgs, repositoryTuningArgs, withExtraArgs } from "./tuning.js";

const base = (repoExtra: string, planExtra = ""): string => `
[repositories.r]
engine = "restic"
url = "/srv/repo"
password_file = "/etc/pass"
${repoExtra}

[plans.p]
sources = ["/home"]
repositories = ["r"]
${planExtra}
`;

function problems(text: string): string[] {
  try {
    parseConfigText(text, "/etc/snapback.toml");
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  throw new Error("the config was accepted");
}

function binary(version: string): ResticBinary {
  const [major = 0, minor = 0, patch = 0] = version.split(".").map(Number);
  return {
    path: "/usr/bin/restic",
    version,
    semver: { major, minor, patch, text: `restic ${version}` },
    features: new Set(),
  };
}

describe("extra_args in the config", () => {
  it("takes an array as the backup flags and a table per command", () => {
    const c = parseConfigText(
      base(
        `extra_args = { backup = ["--no-scan"], prune = ["--max-unused=5%"], check = ["--with-cache"] }`,
        `extra_args = ["--exclude-caches", "--skip-if-unchanged"]`,
      ),
    );
    const repo = c.repositories["r"];
    expect(repo?.engine === "restic" && repo.extra_args).toEqual({
      backup: ["--no-scan"],
      prune: ["--max-unused=5%"],
      check: ["--with-cache"],
    });
    expect(c.plans["p"]?.extra_args).toEqual({
      backup: ["--exclude-caches", "--skip-if-unchanged"],
    });
  });

  it.each([
    [
      `extra_args = ["--repo=/elsewhere"]`,
      "repositories.r.extra_args.backup[0]",
      "--repo is set by snapback",
    ],
    [
      `extra_args = ["--password-file=/x"]`,
      "repositories.r.extra_args.backup[0]",
      "--password-file is set by snapback",
    ],
    [`extra_args = ["--json"]`, "repositories.r.extra_args.backup[0]", "--json is set by snapback"],
    [
      `extra_args = { forget = ["--keep-last=1"] }`,
      "repositories.r.extra_args.forget[0]",
      "--keep-last is set by snapback",
    ],
    [
      `extra_args = { check = ["--read-data"] }`,
      "repositories.r.extra_args.check[0]",
      "--read-data is set by snapback",
    ],
    [
      `extra_args = ["--compression=max"]`,
      "repositories.r.extra_args.backup[0]",
      "use compression",
    ],
    [`extra_args = ["/etc"]`, "repositories.r.extra_args.backup[0]", "must be a flag"],
    [`extra_args = ["--", "/etc"]`, "repositories.r.extra_args.backup[0]", "must be a flag"],
    [`extra_args = ["-vH=x"]`, "repositories.r.extra_args.backup[0]", "one short flag"],
    [`extra_args = { backp = ["-v"] }`, "repositories.r.extra_args.backp", "unknown key"],
  ])("refuses %s in a repository", (line, key, message) => {
    const found = problems(base(line));
    expect(
      found.some((p) => p.includes(`${key}:`) && p.includes(message)),
      found.join("\n"),
    ).toBe(true);
  });

  it.each([
    [
      `extra_args = ["--tag=x"]`,
      "plans.p.extra_args.backup[0]",
      "--tag is set by snapback: use tags",
    ],
    [`extra_args = ["--host=x"]`, "plans.p.extra_args.backup[0]", "--host is set by snapback"],
    [
      `extra_args = ["--parent=abc"]`,
      "plans.p.extra_args.backup[0]",
      "--parent is set by snapback",
    ],
    [`extra_args = ["--exclude-file=/x"]`, "plans.p.extra_args.backup[0]", "--exclude-file"],
    [`extra_args = ["--files-from=/x"]`, "plans.p.extra_args.backup[0]", "--files-from"],
    [`extra_args = ["--stdin-filename=x"]`, "plans.p.extra_args.backup[0]", "--stdin-filename"],
    [`extra_args = { restore = ["--target=/x"] }`, "plans.p.extra_args.restore[0]", "--target"],
    [`extra_args = { prune = ["-v"] }`, "plans.p.extra_args.prune", "unknown key"],
  ])("refuses %s in a plan", (line, key, message) => {
    const found = problems(base("", line));
    expect(
      found.some((p) => p.includes(`${key}:`) && p.includes(message)),
      found.join("\n"),
    ).toBe(true);
  });

  it("lets flags snapback does not own through, per command", () => {
    expect(extraArgProblem("backup", "--no-scan")).toBeUndefined();
    expect(extraArgProblem("backup", "--exclude=*.iso")).toBeUndefined();
    expect(extraArgProblem("forget", "--tag=x")).toContain("snapback selects");
    expect(extraArgProblem("prune", "--tag=x")).toBeUndefined();
    expect(extraArgProblem("restore", "--verify")).toBeUndefined();
    expect(extraArgProblem("backup", "-v")).toBeUndefined();
    expect(extraArgProblem("backup", "-H")).toContain("use host");
  });

  it("checks the first-class keys' values", () => {
    expect(problems(base(`compression = "best"`)).join("\n")).toContain(
      "repositories.r.compression",
    );
    expect(problems(base(`pack_size = 2`)).join("\n")).toContain(
      "repositories.r.pack_size: 2 must be at least 4",
    );
    expect(problems(base(`limit_upload = 0`)).join("\n")).toContain("repositories.r.limit_upload");
    expect(problems(base("", `read_concurrency = 0`)).join("\n")).toContain(
      "plans.p.read_concurrency",
    );
  });
});

describe("restic flags of the first-class keys", () => {
  const parsed = parseConfigText(
    base(
      `compression = "max"\npack_size = 64\nlimit_upload = 1000\nlimit_download = 2000`,
      `read_concurrency = 4`,
    ),
  );
  const repo = parsed.repositories["r"];
  const plan = parsed.plans["p"];
  if (repo?.engine !== "restic" || !plan) throw new Error("bad fixture");

  it("become global flags on a restic that has them", () => {
    expect(repositoryTuningArgs("r", repo, binary("0.14.0"))).toEqual([
      "--compression=max",
      "--pack-size=64",
      "--limit-upload=1000",
      "--limit-download=2000",
    ]);
    expect(planBackupTuningArgs("p", plan, binary("0.18.0"))).toEqual(["--read-concurrency=4"]);
  });

  it("are refused, naming key and value, on a restic that lacks them", () => {
    expect(() => planBackupTuningArgs("p", plan, binary("0.14.0"))).toThrow(UsageError);
    expect(() => planBackupTuningArgs("p", plan, binary("0.14.0"))).toThrow(
      "plans.p.read_concurrency = 4: /usr/bin/restic is restic 0.14.0, which has no --read-concurrency (needs restic 0.15 or newer)",
    );
    expect(() => repositoryTuningArgs("r", repo, binary("0.13.1"))).toThrow(
      'repositories.r.compression = "max"',
    );
  });
});

describe("where extra flags go", () => {
  it("after snapback's flags and before the paths", () => {
    expect(withExtraArgs(["backup", "--json", "--", "/a"], ["--no-scan"])).toEqual([
      "backup",
      "--json",
      "--no-scan",
      "--",
      "/a",
    ]);
    expect(withExtraArgs(["prune"], ["--max-unused=5%"])).toEqual(["prune", "--max-unused=5%"]);
  });

  it("backupArgs puts the plan's flags before the paths", () => {
    const c = parseConfigText(base("", `extra_args = ["--exclude-caches"]\nread_concurrency = 3`));
    const plan = c.plans["p"];
    if (!plan) throw new Error("bad fixture");
    const args = backupArgs({
      plan,
      planName: "p",
      host: "h",
      paths: ["/home"],
      extraExcludes: [],
    });
    expect(args.slice(-4)).toEqual(["--read-concurrency=3", "--exclude-caches", "--", "/home"]);
  });
});

describe("refusal messages", () => {
  it("quote the value, but never a password flag's", () => {
    expect(extraArgProblem("backup", "--host=x")).toBe(
      '"--host=x": --host is set by snapback: use host',
    );
    expect(extraArgProblem("backup", "--password-command=echo s3cret")).not.toContain("s3cret");
  });
});

describe("plan keys for restic", () => {
  it("are refused on a plan without a restic repository", () => {
    const text = `
[repositories.usb]
engine = "btrfs"
path = "/mnt/usb"

[plans.p]
sources = ["/home"]
repositories = ["usb"]
read_concurrency = 2
`;
    expect(problems(text).join("\n")).toContain(
      "plans.p.read_concurrency: is for restic repositories, and none of the plan's repositories is one",
    );
  });
});
