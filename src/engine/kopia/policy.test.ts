import { describe, expect, it } from "vitest";
import { snapshotCreateArgs } from "./backup.js";
import {
  ignoreRulesFor,
  literalRuleFor,
  planKeepRules,
  policyCommands,
  retentionFlags,
} from "./policy.js";
import { plan } from "./test-support.js";

describe("kopia policy commands", () => {
  it("maps the plan's retention to --keep-* (unset rules keep nothing) and leaves the policy alone without rules", () => {
    const p = plan(["/srv"], { retention: { keep_last: 3, keep_daily: 7, keep_yearly: 1 } });
    expect(retentionFlags(planKeepRules(p))).toEqual([
      "--keep-latest=3",
      "--keep-hourly=0",
      "--keep-daily=7",
      "--keep-weekly=0",
      "--keep-monthly=0",
      "--keep-annual=1",
    ]);
    expect(retentionFlags(planKeepRules(plan(["/srv"])))).toBeUndefined();
    expect(retentionFlags({ last: 0 })).toBeUndefined();
  });

  it("clears the ignore list first, then sets each source's rules, and says what kopia cannot do", () => {
    const p = plan(["/srv", "/home"], {
      exclude: ["*.tmp", "/home/*/.cache", "cache/tmp", "!keep.tmp"],
      exclude_if_present: [".nobackup"],
      exclude_caches: true,
      one_file_system: true,
      retention: { keep_last: 2, keep_within: "30d" },
    });
    const cmds = policyCommands({
      planName: "home",
      plan: p,
      paths: ["/srv", "/home"],
      extraExcludes: ["/srv/.snapback", "/var/lib/snapback"],
      rules: planKeepRules(p),
    });
    expect(cmds.clear).toEqual(["policy", "set", "--clear-ignore", "/srv", "/home"]);
    const keep = [
      "--keep-latest=2",
      "--keep-hourly=0",
      "--keep-daily=0",
      "--keep-weekly=0",
      "--keep-monthly=0",
      "--keep-annual=0",
    ];
    expect(cmds.set).toEqual([
      [
        "policy",
        "set",
        "--add-ignore=*.tmp",
        "--add-ignore=**/cache/tmp",
        "--add-ignore=!keep.tmp",
        "--add-ignore=/.snapback",
        "--one-file-system=true",
        "--ignore-cache-dirs=true",
        ...keep,
        "/srv",
      ],
      [
        "policy",
        "set",
        "--add-ignore=*.tmp",
        "--add-ignore=/*/.cache",
        "--add-ignore=**/cache/tmp",
        "--add-ignore=!keep.tmp",
        "--one-file-system=true",
        "--ignore-cache-dirs=true",
        ...keep,
        "/home",
      ],
    ]);
    expect(cmds.warnings).toEqual([
      "kopia has no exclude_if_present: plans.home.exclude_if_present (.nobackup) is not applied",
      "kopia has no keep_within: plans.home.retention.keep_within is not applied",
    ]);
  });

  it("anchors absolute patterns below the source and drops those that cannot reach it", () => {
    expect(ignoreRulesFor("/home/*/.cache", "/home/alice")).toEqual(["/.cache"]);
    expect(ignoreRulesFor("/home/[ab]*/x", "/home/bob")).toEqual(["/x"]);
    expect(ignoreRulesFor("/home/[ab]*/x", "/home/carol")).toEqual([]);
    expect(ignoreRulesFor("/srv/x", "/home")).toEqual([]);
    expect(ignoreRulesFor("/home", "/home")).toEqual([]);
    expect(ignoreRulesFor("/**/x", "/home")).toEqual([]);
    expect(ignoreRulesFor("!/home/a/keep", "/home")).toEqual(["!/a/keep"]);
    expect(literalRuleFor("/srv/we*ird[1]", "/srv")).toEqual(["/we\\*ird\\[1\\]"]);
    expect(literalRuleFor("/srv", "/srv")).toEqual([]);
    expect(literalRuleFor("/x/y", "/")).toEqual(["/x/y"]);
  });

  it("builds snapshot create with JSON, tags, the description and the original paths last", () => {
    const args = snapshotCreateArgs(
      { planName: "home", plan: plan(["/srv"], { tags: ["nightly"] }), paths: ["/srv", "/home"] },
      "R",
    );
    expect(args).toEqual([
      "snapshot",
      "create",
      "--json",
      "--json-verbose",
      "--no-progress",
      "--description=snapback plan home",
      "--tags=nightly:",
      "--tags=plan:home",
      "--tags=snapback-run:R",
      "/srv",
      "/home",
    ]);
  });
});
