import { sampleSummary } from "../../test/fixtures/events.js";
import { run as exec } from "../exec/index.js";
import type { ResultEvent, RunStatus, SummaryEvent } from "../core/events.js";
import type { MetricsRun } from "./samples.js";

/** Helpers for this folder's tests (never imported by product code). */

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL_NAME = "[a-zA-Z_][a-zA-Z0-9_]*";
const LABEL_VALUE = String.raw`"(?:[^"\\\n]|\\[\\"n])*"`;
const LABEL = `${LABEL_NAME}=${LABEL_VALUE}`;
const VALUE = String.raw`(?:[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?Inf|NaN)`;
const SAMPLE = new RegExp(`^(${NAME})(\\{(?:${LABEL}(?:,${LABEL})*,?)?\\})? ${VALUE}(?: -?\\d+)?$`);
const HELP = new RegExp(String.raw`^# HELP (${NAME}) (?:[^\\\n]|\\[\\n])*$`);
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);

/**
 * Checks text with Prometheus's own parser and linter (`promtool check metrics`, the Go
 * text-format parser node_exporter uses) and then with the stricter rules below, which that
 * parser leaves to the registry (a repeated series, a family's samples split up, a bad
 * escape). Returns the problems found (none = valid).
 */
export async function validateExposition(text: string): Promise<string[]> {
  const r = await exec("promtool", ["check", "metrics"], { input: text, reject: false });
  const parsed =
    r.exitCode === 0
      ? []
      : `${r.stdout}${r.stderr}`
          .split("\n")
          .filter(Boolean)
          .map((l) => `promtool: ${l}`);
  return [...parsed, ...grammarProblems(text)];
}

/**
 * Checks text against the Prometheus text exposition format (0.0.4) as node_exporter's
 * textfile collector reads it: every sample line matches the grammar, each metric has one
 * HELP and one TYPE before its samples, a metric's samples are contiguous, no series
 * repeats, the file ends with a newline. Returns the problems found (none = valid).
 */
function grammarProblems(text: string): string[] {
  const problems: string[] = [];
  if (text !== "" && !text.endsWith("\n")) problems.push("does not end with a newline");
  const help = new Set<string>();
  const type = new Set<string>();
  const closed = new Set<string>();
  const series = new Set<string>();
  let current: string | undefined;
  text.split("\n").forEach((line, i) => {
    const at = `line ${i + 1}`;
    if (line === "") return;
    if (line.startsWith("#")) {
      const h = HELP.exec(line);
      const t = TYPE.exec(line);
      const name = h?.[1] ?? t?.[1];
      if (line.startsWith("# HELP ") && !h) problems.push(`${at}: bad HELP line`);
      if (line.startsWith("# TYPE ") && !t) problems.push(`${at}: bad TYPE line`);
      if (name === undefined) return;
      const seen = h ? help : type;
      if (seen.has(name)) problems.push(`${at}: second ${h ? "HELP" : "TYPE"} for ${name}`);
      if (name === current || closed.has(name))
        problems.push(`${at}: ${name} metadata after samples`);
      seen.add(name);
      return;
    }
    const m = SAMPLE.exec(line);
    if (!m) {
      problems.push(`${at}: not a valid sample line: ${line}`);
      return;
    }
    const name = m[1] ?? "";
    if (!help.has(name) || !type.has(name))
      problems.push(`${at}: ${name} lacks HELP/TYPE before it`);
    if (name !== current) {
      if (current !== undefined) closed.add(current);
      if (closed.has(name)) problems.push(`${at}: samples of ${name} are not contiguous`);
      current = name;
    }
    const key = `${name}${m[2] ?? ""}`;
    if (series.has(key)) problems.push(`${at}: series ${key} repeats`);
    series.add(key);
  });
  return problems;
}

export const summary = sampleSummary;

/** A run of plan into repositories; failed ones listed in failedRepos. */
export function run(
  plan: string,
  status: RunStatus,
  repositories: string[],
  options: {
    failedRepos?: string[];
    finishedAt?: Date;
    skewMs?: number | null;
    summaries?: SummaryEvent[];
  } = {},
): MetricsRun {
  const failed = options.failedRepos ?? [];
  const summaries =
    options.summaries ??
    repositories.filter((r) => !failed.includes(r)).map((r) => summary(plan, r));
  const result: ResultEvent = {
    type: "result",
    plan,
    run_id: `run-${plan}`,
    status,
    snapshot_ids: Object.fromEntries(summaries.map((s) => [s.repository, s.snapshot_id])),
    snapshot_skew_ms: options.skewMs === undefined ? 250 : options.skewMs,
    atomic_groups: [],
    nested: [],
    not_point_in_time: [],
    warnings: [],
    failed_repositories: Object.fromEntries(failed.map((r) => [r, "unreachable"])),
    duration_s: 61.5,
  };
  return { result, summaries, ...(options.finishedAt ? { finishedAt: options.finishedAt } : {}) };
}
