import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, UsageError } from "../errors.js";
import {
  configPath,
  DEFAULT_CONFIG_PATH,
  formatKeyPath,
  loadConfig,
  parseConfigText,
} from "./load.js";

const REPO = `[repositories.offsite]
engine = "restic"
url = "sftp:backup@nas:/srv/restic"
password_file = "/etc/snapback/offsite.pass"
`;

const PLAN = `[plans.home]
sources = ["/home", "/var/lib/app"]
repositories = ["offsite"]
`;

const GOOD = `state_dir = "/var/lib/snapback"\n\n${REPO}\n${PLAN}`;

function parseError(text: string, file = "/etc/snapback/snapback.toml"): ConfigError {
  try {
    parseConfigText(text, file);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError, the config was accepted");
}

function lineOf(text: string, marker: string): number {
  const i = text.split("\n").findIndex((l) => l.includes(marker));
  if (i < 0) throw new Error(`marker ${marker} not in test config`);
  return i + 1;
}

interface BadCase {
  name: string;
  toml: string;
  /** Fragment of the problem, starting with the key path. */
  expect: string;
  /** Text on the line the problem must point at (omit when no line is expected). */
  at?: string;
}

const bad: BadCase[] = [
  {
    name: "unknown top-level key",
    toml: `statedir = "/srv"\n${REPO}${PLAN}`,
    expect: "statedir: unknown key (did you mean state_dir?)",
    at: "statedir =",
  },
  {
    name: "unknown top-level key without a close match lists the allowed keys",
    toml: `${REPO}${PLAN}[schedules]\nbefore = "x"\n`,
    expect:
      "schedules: unknown key (allowed: state_dir, repositories, plans, notify, metrics, dbus, server, restic_binary)",
    at: "[schedules]",
  },
  {
    name: "unknown plan key",
    toml: `${REPO}${PLAN}excludes = ["*.tmp"]\n`,
    expect: "plans.home.excludes: unknown key (did you mean exclude?)",
    at: "excludes =",
  },
  {
    name: "two unknown plan keys, each with its own line",
    toml: `${REPO}${PLAN}tag = ["x"]\nonefilesystem = true\n`,
    expect: "plans.home.onefilesystem: unknown key (did you mean one_file_system?)",
    at: "onefilesystem =",
  },
  {
    name: "unknown repository key",
    toml: `${REPO}passwd_file = "/x"\n${PLAN}`,
    expect: "repositories.offsite.passwd_file: unknown key (did you mean password_file?)",
    at: "passwd_file =",
  },
  {
    name: "unknown key for the repository's engine (kopia has no url)",
    toml: `[repositories.k]\nengine = "kopia"\nconfig_file = "/etc/kopia.config"\nurl = "/x"\n`,
    expect: "repositories.k.url: unknown key (allowed: engine, config_file,",
    at: "url =",
  },
  {
    name: "unknown retention key",
    toml: `${REPO}${PLAN}[plans.home.retention]\nkeep_dayly = 7\n`,
    expect: "plans.home.retention.keep_dayly: unknown key (did you mean keep_daily?)",
    at: "keep_dayly",
  },
  {
    name: "sources is a string, not an array",
    toml: `${REPO}[plans.home]\nsources = "/home"\nrepositories = ["offsite"]\n`,
    expect: 'plans.home.sources: must be an array (got string; a list is written ["a", "b"])',
    at: "sources =",
  },
  {
    name: "keep_daily is a quoted number",
    toml: `${REPO}${PLAN}[plans.home.retention]\nkeep_daily = "7"\n`,
    expect:
      "plans.home.retention.keep_daily: must be a number (got string; write the number without quotes)",
    at: "keep_daily",
  },
  {
    name: "keep_daily is a float",
    toml: `${REPO}${PLAN}[plans.home.retention]\nkeep_daily = 1.5\n`,
    expect: "plans.home.retention.keep_daily: must be an integer (got float)",
    at: "keep_daily",
  },
  {
    name: "keep_daily is negative",
    toml: `${REPO}${PLAN}[plans.home.retention]\nkeep_daily = -1\n`,
    expect: "plans.home.retention.keep_daily: -1 must be >= 0",
    at: "keep_daily",
  },
  {
    name: "wrong type inside an inline table points at the table's line",
    toml: `${REPO}${PLAN}retention = { keep_daily = "7" }\n`,
    expect: "plans.home.retention.keep_daily: must be a number",
    at: "retention = {",
  },
  {
    name: "boolean given as a string",
    toml: `${REPO}${PLAN}exclude_caches = "yes"\n`,
    expect: "plans.home.exclude_caches: must be a boolean (true or false) (got string)",
    at: "exclude_caches",
  },
  {
    name: "repositories is not a table",
    toml: `repositories = 3\n`,
    expect: "repositories: must be a table (got integer)",
    at: "repositories = 3",
  },
  {
    name: "relative source path",
    toml: `${REPO}[plans.home]\nsources = ["/srv", "home"]\nrepositories = ["offsite"]\n`,
    expect: 'plans.home.sources[1]: "home" must be an absolute path',
    at: "sources =",
  },
  {
    name: "empty source path",
    toml: `${REPO}[plans.home]\nsources = [""]\nrepositories = ["offsite"]\n`,
    expect: "plans.home.sources[0]: must not be empty",
    at: "sources =",
  },
  {
    name: "empty sources",
    toml: `${REPO}[plans.home]\nsources = []\nrepositories = ["offsite"]\n`,
    expect: "plans.home.sources: must list at least one absolute path",
    at: "sources =",
  },
  {
    name: "missing sources points at the plan's header",
    toml: `${REPO}[plans.home]\nrepositories = ["offsite"]\n`,
    expect: "plans.home.sources: must list at least one absolute path",
    at: "[plans.home]",
  },
  {
    name: "duplicate source (trailing slash is the same path)",
    toml: `${REPO}[plans.home]\nsources = ["/home", "/srv", "/home/"]\nrepositories = ["offsite"]\n`,
    expect: "plans.home.sources[2]: repeats sources[0] (/home/)",
    at: "sources =",
  },
  {
    name: "missing repositories in a plan",
    toml: `${REPO}[plans.home]\nsources = ["/home"]\n`,
    expect: "plans.home.repositories: is required",
    at: "[plans.home]",
  },
  {
    name: "empty repositories in a plan",
    toml: `${REPO}[plans.home]\nsources = ["/home"]\nrepositories = []\n`,
    expect: "plans.home.repositories: must name at least one repository",
    at: "repositories = []",
  },
  {
    name: "undefined repository in a plan",
    toml: `${REPO}[plans.home]\nsources = ["/home"]\nrepositories = ["offsite", "nas"]\n`,
    expect: 'plans.home.repositories[1]: unknown repository "nas" (defined: offsite)',
    at: "repositories = [",
  },
  {
    name: "a repository named like an Object.prototype member is still unknown",
    toml: `${REPO}[plans.home]\nsources = ["/home"]\nrepositories = ["constructor"]\n`,
    expect: 'plans.home.repositories[0]: unknown repository "constructor"',
    at: "repositories = [",
  },
  {
    name: "repository listed twice in a plan",
    toml: `${REPO}[plans.home]\nsources = ["/home"]\nrepositories = ["offsite", "offsite"]\n`,
    expect: "plans.home.repositories[1]: repeats repositories[0] (offsite)",
    at: "repositories = [",
  },
  {
    name: "unknown engine",
    toml: `[repositories.offsite]\nengine = "borg"\nurl = "/srv/borg"\n`,
    expect: 'repositories.offsite.engine: must be one of restic, kopia, btrfs, zfs (got "borg")',
    at: "engine =",
  },
  {
    name: "missing engine",
    toml: `[repositories.offsite]\nurl = "/srv/restic"\n`,
    expect: "repositories.offsite.engine: is required (one of restic, kopia, btrfs, zfs)",
    at: "[repositories.offsite]",
  },
  {
    name: "restic repository without any password",
    toml: `[repositories.offsite]\nengine = "restic"\nurl = "/srv/restic"\n`,
    expect:
      "repositories.offsite: a restic repository needs a password: set password_file or password_command",
    at: "[repositories.offsite]",
  },
  {
    name: "password_file and password_command both set",
    toml: `${REPO}password_command = ["pass", "show", "restic"]\n`,
    expect:
      "repositories.offsite.password_command: set either password_file or password_command, not both",
    at: "password_command",
  },
  {
    name: "empty password_command",
    toml: `[repositories.offsite]\nengine = "restic"\nurl = "/srv/restic"\npassword_command = []\n`,
    expect: "repositories.offsite.password_command: must name a command",
    at: "password_command",
  },
  {
    name: "relative password_file",
    toml: `[repositories.offsite]\nengine = "restic"\nurl = "/srv/restic"\npassword_file = "offsite.pass"\n`,
    expect: 'repositories.offsite.password_file: "offsite.pass" must be an absolute path',
    at: "password_file",
  },
  {
    name: "relative local restic url",
    toml: `[repositories.offsite]\nengine = "restic"\nurl = "backups/restic"\npassword_file = "/p"\n`,
    expect:
      'repositories.offsite.url: "backups/restic" must be an absolute path or a restic repository string',
    at: "url =",
  },
  {
    name: "relative restic_binary",
    toml: `${REPO}restic_binary = "bin/restic"\n`,
    expect:
      'repositories.offsite.restic_binary: "bin/restic" must be an absolute path or a program name, e.g. "/usr/local/bin/restic"',
    at: "restic_binary",
  },
  {
    name: "append_only that is not a boolean",
    toml: `${REPO}append_only = "yes"\n`,
    expect: "repositories.offsite.append_only:",
    at: "append_only",
  },
  {
    name: "plan name with bad characters",
    toml: `${REPO}[plans."my home"]\nsources = ["/home"]\nrepositories = ["offsite"]\n`,
    expect: 'plans."my home": invalid name: may contain only letters, digits',
    at: '[plans."my home"]',
  },
  {
    name: "repository name with bad characters",
    toml: `[repositories."off/site"]\nengine = "restic"\nurl = "/srv/r"\npassword_file = "/p"\n`,
    expect: 'repositories."off/site": invalid name: may contain only letters, digits',
    at: '[repositories."off/site"]',
  },
  {
    name: "environment variable name with bad characters",
    toml: `${REPO}env = { "AWS-KEY" = "x" }\n`,
    expect: "repositories.offsite.env.AWS-KEY: invalid name: must be an environment variable name",
    at: "env = {",
  },
  {
    name: "env value that is not a string (value not echoed)",
    toml: `${REPO}env = { RESTIC_PASSWORD = 123456789 }\n`,
    expect: "repositories.offsite.env.RESTIC_PASSWORD: must be a string (got integer)",
    at: "env = {",
  },
  {
    name: "unknown snapshot kind",
    toml: `${REPO}${PLAN}snapshot = "lvm"\n`,
    expect: 'plans.home.snapshot: must be one of "auto", "btrfs", "zfs", "none" (got "lvm")',
    at: "snapshot =",
  },
  {
    name: "relative state_dir",
    toml: `state_dir = "var/lib/snapback"\n`,
    expect: 'state_dir: "var/lib/snapback" must be an absolute path',
    at: "state_dir",
  },
  {
    name: "keep_within in a wrong format",
    toml: `${REPO}${PLAN}[plans.home.retention]\nkeep_within = "30 days"\n`,
    expect: 'plans.home.retention.keep_within: "30 days" must look like 30d, 1y6m, 12h',
    at: "keep_within",
  },
  {
    name: "tag with a comma",
    toml: `${REPO}${PLAN}tags = ["a,b"]\n`,
    expect: 'plans.home.tags[0]: "a,b" must not contain commas or spaces',
    at: "tags =",
  },
  {
    name: "a date where a string belongs",
    toml: `${REPO}${PLAN}schedule = 2024-01-01\n`,
    expect: "plans.home.schedule: must be a string (got date-time)",
    at: "schedule =",
  },
  {
    name: "dotted keys at the top level are located",
    toml: `plans.home.sources = ["/home"]\nplans.home.repositories = ["offsite"]\nplans.home.snapshot = "lvm"\n${REPO}`,
    expect: 'plans.home.snapshot: must be one of "auto"',
    at: "plans.home.snapshot",
  },
  {
    name: "invalid TOML syntax",
    toml: `${REPO}${PLAN}exclude = ["*.tmp"\n`,
    expect: "invalid TOML: ",
  },
  {
    name: "a key defined twice is a TOML error",
    toml: `${REPO}${PLAN}exclude_caches = true\nexclude_caches = false\n`,
    expect: "invalid TOML: trying to redefine an already defined table or value",
  },
];

describe("parseConfigText: bad configs", () => {
  it.each(bad)("$name", ({ toml, expect: fragment, at }) => {
    const err = parseError(toml);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.exitCode).toBe(2);
    expect(err.message.startsWith("/etc/snapback/snapback.toml: ")).toBe(true);
    const problem = err.problems.find((p) => p.includes(fragment));
    expect(problem, `problems: ${JSON.stringify(err.problems)}`).toBeDefined();
    if (at !== undefined) expect(problem).toMatch(new RegExp(`^line ${lineOf(toml, at)}: `));
  });

  it("reports the line and column of a TOML syntax error", () => {
    const text = `state_dir = "/x"\n[plans.home]\nsources = [\n  "/home",\n  /home\n]\n`;
    const err = parseError(text);
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toMatch(/^line 5, column \d+: invalid TOML: /);
  });

  it("never echoes the source excerpt of a TOML error (it may hold a secret)", () => {
    const text = `${REPO}env = { AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI" \n${PLAN}`;
    const err = parseError(text);
    expect(err.message).toMatch(/^\S+: line \d+, column \d+: invalid TOML: /);
    expect(err.message).not.toContain("wJalrXUtnFEMI");
    expect(err.message).not.toContain("\n");
  });

  it("never echoes a secret env value that has the wrong type or a long string value", () => {
    const text = `${REPO}env = { RESTIC_PASSWORD = 271828182845, B2_ACCOUNT_KEY = ["K001xyzSECRET"] }\n${PLAN}`;
    const err = parseError(text);
    expect(err.problems).toHaveLength(2);
    expect(err.message).not.toContain("271828182845");
    expect(err.message).not.toContain("K001xyzSECRET");
  });

  it("reports each unknown key of one table separately, at its own line", () => {
    const text = `${REPO}${PLAN}tag = ["x"]\nonefilesystem = true\n`;
    expect(parseError(text).problems).toEqual([
      "line 8: plans.home.tag: unknown key (did you mean tags?)",
      "line 9: plans.home.onefilesystem: unknown key (did you mean one_file_system?)",
    ]);
  });

  it("reports every problem, sorted by line", () => {
    const text = `${REPO}[plans.home]\nsources = ["home"]\nrepositories = ["offsite"]\nsnapshot = "lvm"\nbogus = 1\n[plans.home.retention]\nkeep_daily = "7"\n`;
    const err = parseError(text);
    expect(err.problems).toHaveLength(4);
    const lines = err.problems.map((p) => Number(/^line (\d+):/.exec(p)?.[1]));
    expect(lines).toEqual([...lines].sort((a, b) => a - b));
    expect(err.message).toContain("4 problems:");
    expect(err.problems.map((p) => p.replace(/^line \d+: /, "").split(":")[0])).toEqual([
      "plans.home.sources[0]",
      "plans.home.snapshot",
      "plans.home.bogus",
      "plans.home.retention.keep_daily",
    ]);
  });
});

describe("parseConfigText: good configs", () => {
  it("applies defaults", () => {
    const config = parseConfigText(`${REPO}${PLAN}[plans.home.retention]\nkeep_daily = 7\n`);
    expect(config.state_dir).toBe("/var/lib/snapback");
    const repo = config.repositories["offsite"];
    expect(repo).toMatchObject({ engine: "restic", init: false });
    const plan = config.plans["home"];
    expect(plan).toEqual({
      sources: ["/home", "/var/lib/app"],
      repositories: ["offsite"],
      snapshot: "auto",
      tags: [],
      exclude: [],
      exclude_if_present: [],
      exclude_caches: false,
      one_file_system: false,
      recursive: true,
      hooks: [],
      databases: [],
      retention: { keep_daily: 7, local_snapshots: 0, prune: true },
    });
  });

  it("accepts the full example of the interface contract", () => {
    const text = `state_dir = "/var/lib/snapback"
[repositories.offsite]
engine = "restic"
url = "sftp:backup@nas:/srv/restic"
password_file = "/etc/snapback/offsite.pass"
env = { AWS_ACCESS_KEY_ID = "..." }
init = true

[plans.home]
sources = ["/home", "/var/lib/app"]
repositories = ["offsite"]
snapshot = "auto"
tags = ["nightly"]
exclude = ["*.tmp", "/home/*/.cache"]
exclude_if_present = [".nobackup"]
exclude_caches = true
one_file_system = false
schedule = "daily"

[plans.home.retention]
keep_last = 3
keep_daily = 7
keep_weekly = 4
keep_monthly = 12
keep_yearly = 1
local_snapshots = 0
`;
    const config = parseConfigText(text);
    expect(config.plans["home"]?.retention?.keep_monthly).toBe(12);
    expect(config.repositories["offsite"]).toMatchObject({
      init: true,
      env: { AWS_ACCESS_KEY_ID: "..." },
    });
  });

  it("accepts a password given through env, and every engine", () => {
    const config = parseConfigText(`
[repositories.r]
engine = "restic"
url = "rest:https://u:p@host:8000/"
env = { RESTIC_PASSWORD_COMMAND = "pass show r" }
[repositories.k]
engine = "kopia"
config_file = "/etc/kopia/repo.config"
[repositories.b]
engine = "btrfs"
path = "/mnt/backup"
[repositories.z]
engine = "zfs"
dataset = "tank/backup"
ssh = "root@nas"
[plans.all]
sources = ["/"]
repositories = ["r", "k", "b", "z"]
`);
    expect(Object.keys(config.repositories)).toEqual(["r", "k", "b", "z"]);
  });

  it("takes restic_binary globally and per repository, and append_only", () => {
    const config = parseConfigText(
      `restic_binary = "/usr/local/bin/restic"\n${REPO}restic_binary = "restic-0.18"\nappend_only = true\n${PLAN}`,
      "/etc/snapback/snapback.toml",
    );
    expect(config.restic_binary).toBe("/usr/local/bin/restic");
    expect(config.repositories["offsite"]).toMatchObject({
      restic_binary: "restic-0.18",
      append_only: true,
    });
  });

  it("an empty file is a valid config with no plans", () => {
    expect(parseConfigText("")).toEqual({
      state_dir: "/var/lib/snapback",
      repositories: {},
      plans: {},
      notify: [],
    });
  });
});

describe("formatKeyPath", () => {
  it("writes indices in brackets and quotes keys that are not bare", () => {
    expect(formatKeyPath(["plans", "home", "sources", 0])).toBe("plans.home.sources[0]");
    expect(formatKeyPath(["plans", "my home", "tags"])).toBe('plans."my home".tags');
    expect(formatKeyPath([])).toBe("");
  });
});

describe("configPath", () => {
  it("prefers --config, then SNAPBACK_CONFIG, then the default", () => {
    expect(configPath("/a.toml", { SNAPBACK_CONFIG: "/b.toml" })).toBe("/a.toml");
    expect(configPath(undefined, { SNAPBACK_CONFIG: "/b.toml" })).toBe("/b.toml");
    expect(configPath(undefined, {})).toBe(DEFAULT_CONFIG_PATH);
  });
});

describe("loadConfig", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "snapback-config-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const withEnv = `${REPO}env = { B2_ACCOUNT_KEY = "K001secretvalue" }\n${PLAN}`;

  async function write(name: string, text: string, mode: number): Promise<string> {
    const file = join(dir, name);
    await writeFile(file, text);
    await chmod(file, mode);
    return file;
  }

  it("refuses a config with env secrets that other users can read, naming the file", async () => {
    const file = await write("shared.toml", withEnv, 0o644);
    const err: unknown = await loadConfig(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    const usage = err as UsageError;
    expect(usage.exitCode).toBe(2);
    expect(usage.message).toContain(file);
    expect(usage.message).toContain("mode 644");
    expect(usage.hint).toBe(`run: chmod 600 ${file}`);
    expect(usage.message).not.toContain("K001secretvalue");
  });

  it("refuses group-readable too", async () => {
    const file = await write("group.toml", withEnv, 0o640);
    await expect(loadConfig(file)).rejects.toThrow(/readable by other users \(mode 640\)/);
  });

  it("accepts a config with env secrets at mode 0600", async () => {
    const file = await write("private.toml", withEnv, 0o600);
    const loaded = await loadConfig(file);
    expect(loaded.path).toBe(file);
    expect(loaded.config.repositories["offsite"]?.env).toEqual({
      B2_ACCOUNT_KEY: "K001secretvalue",
    });
  });

  it("accepts a world-readable config that names no secrets", async () => {
    const file = await write("plain.toml", GOOD, 0o644);
    const loaded = await loadConfig(file);
    expect(Object.keys(loaded.config.plans)).toEqual(["home"]);
  });

  it("names a missing config file and how to choose another", async () => {
    const file = join(dir, "nope.toml");
    const err: unknown = await loadConfig(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).message).toBe(`config file ${file} does not exist`);
    expect((err as UsageError).hint).toContain("--config");
  });

  it("reports validation problems with the file's path", async () => {
    const file = await write("bad.toml", `${REPO}${PLAN}snapshot = "lvm"\n`, 0o600);
    await expect(loadConfig(file)).rejects.toThrow(
      `${file}: line 8: plans.home.snapshot: must be one of`,
    );
  });
});
