import { posix } from "node:path";
import type { Plan } from "../../config/schema.js";
import { normalizePath } from "../../util/paths.js";
import type { KeepRules } from "../types.js";

/**
 * kopia has no exclude flags nor keep flags on `snapshot create`: both are the policy of the
 * source path (`kopia policy set <path> …`), which kopia applies by itself when it snapshots
 * that path (and expires old snapshots right after saving a new one). snapback owns the
 * ignore list and the retention of the policies of its sources' paths.
 */

/** `--keep-*` flags for the rules; undefined when the plan sets none (the policy is left alone). */
export function retentionFlags(rules: KeepRules): string[] | undefined {
  const pairs: [string, number | undefined][] = [
    ["keep-latest", rules.last],
    ["keep-hourly", rules.hourly],
    ["keep-daily", rules.daily],
    ["keep-weekly", rules.weekly],
    ["keep-monthly", rules.monthly],
    ["keep-annual", rules.yearly],
  ];
  if (!pairs.some(([, n]) => n !== undefined && n > 0)) return undefined;
  // A rule the plan does not name keeps nothing, as with restic's forget: kopia would
  // otherwise inherit its global defaults (10 latest, 48 hourly, 7 daily, …).
  return pairs.map(([flag, n]) => `--${flag}=${n ?? 0}`);
}

/** The plan's `[retention]` keys as engine keep rules. */
export function planKeepRules(plan: Plan): KeepRules {
  const r = plan.retention;
  if (!r) return {};
  return {
    ...(r.keep_last === undefined ? {} : { last: r.keep_last }),
    ...(r.keep_hourly === undefined ? {} : { hourly: r.keep_hourly }),
    ...(r.keep_daily === undefined ? {} : { daily: r.keep_daily }),
    ...(r.keep_weekly === undefined ? {} : { weekly: r.keep_weekly }),
    ...(r.keep_monthly === undefined ? {} : { monthly: r.keep_monthly }),
    ...(r.keep_yearly === undefined ? {} : { yearly: r.keep_yearly }),
    ...(r.keep_within === undefined ? {} : { within: r.keep_within }),
  };
}

export interface PolicyCommands {
  /** Run first: empties the ignore lists (kopia's --clear-ignore ignores --add-ignore given with it). */
  clear: string[];
  /** One `policy set` per source path. */
  set: string[][];
  /** What the plan asks for that kopia cannot do. */
  warnings: string[];
}

/** The `policy set` commands that give each source path the plan's excludes and retention. */
export function policyCommands(input: {
  planName: string;
  plan: Plan;
  paths: readonly string[];
  extraExcludes: readonly string[];
  rules: KeepRules;
}): PolicyCommands {
  const { plan, paths } = input;
  const warnings: string[] = [];
  if (plan.exclude_if_present.length > 0) {
    warnings.push(
      `kopia has no exclude_if_present: plans.${input.planName}.exclude_if_present (${plan.exclude_if_present.join(", ")}) is not applied`,
    );
  }
  if (input.rules.within !== undefined) {
    warnings.push(
      `kopia has no keep_within: plans.${input.planName}.retention.keep_within is not applied`,
    );
  }
  const retention = retentionFlags(input.rules) ?? [];
  const set = paths.map((source) => {
    const rules = [
      ...plan.exclude.flatMap((p) => ignoreRulesFor(p, source)),
      ...input.extraExcludes.flatMap((p) => literalRuleFor(p, source)),
    ];
    return [
      "policy",
      "set",
      ...[...new Set(rules)].map((r) => `--add-ignore=${r}`),
      `--one-file-system=${plan.one_file_system}`,
      `--ignore-cache-dirs=${plan.exclude_caches}`,
      ...retention,
      source,
    ];
  });
  return { clear: ["policy", "set", "--clear-ignore", ...paths], set, warnings };
}

/**
 * A restic exclude pattern as kopia ignore rules (gitignore syntax) of the policy at `source`.
 * A pattern without "/" matches a name at any depth in both. A relative pattern with "/"
 * matches anywhere in restic: "**\/" says the same in gitignore. An absolute pattern applies
 * to the sources it can reach and is anchored at the source ("/…" in gitignore means "at the
 * policy's directory").
 */
export function ignoreRulesFor(pattern: string, source: string): string[] {
  const negated = pattern.startsWith("!");
  const body = negated ? pattern.slice(1) : pattern;
  const bang = negated ? "!" : "";
  if (!body.startsWith("/")) {
    const rel = body.replace(/\/+$/, "");
    if (!rel) return [];
    return [`${bang}${rel.includes("/") && !rel.startsWith("**/") ? `**/${rel}` : rel}`];
  }
  const pat = components(body);
  const src = components(normalizePath(source));
  if (pat.length <= src.length) return [];
  for (let i = 0; i < src.length; i++) {
    const p = pat[i] ?? "";
    // "**" could stand for any number of the source's components: not translated (kopia
    // would need the rule at every depth); the pattern is left out rather than guessed.
    if (p === "**") return [];
    if (!globComponent(p).test(src[i] ?? "")) return [];
  }
  return [`${bang}/${pat.slice(src.length).join("/")}`];
}

/** An absolute literal path (snapback's own dirs) as an anchored rule, if it lies below `source`. */
export function literalRuleFor(path: string, source: string): string[] {
  const p = normalizePath(path);
  const s = normalizePath(source);
  if (p === s || !(s === "/" || p.startsWith(`${s}/`))) return [];
  const rel = posix.relative(s, p);
  return [`/${rel.replace(/[\\*?[\]!#]/g, (c) => `\\${c}`)}`];
}

function components(p: string): string[] {
  return p.split("/").filter(Boolean);
}

/** One path component of a Go/restic glob as a regular expression. */
function globComponent(p: string): RegExp {
  let re = "";
  for (let i = 0; i < p.length; i++) {
    const c = p[i] ?? "";
    if (c === "\\" && i + 1 < p.length) {
      re += escapeRe(p[++i] ?? "");
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = p.indexOf("]", i + 2);
      if (end < 0) re += "\\[";
      else {
        const cls = p
          .slice(i + 1, end)
          .replace(/^\^/, "^")
          .replace(/\\/g, "\\\\");
        re += `[${cls}]`;
        i = end;
      }
    } else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`);
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
