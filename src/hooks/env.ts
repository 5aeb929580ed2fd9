import { redact } from "../log.js";
import type { HookRunStatus, RunFacts } from "./facts.js";
import type { HookWhen } from "../config/hooks.js";

/**
 * The environment a hook runs with: snapback's own environment minus anything secret, plus
 * the run's facts as SNAPBACK_* variables.
 *
 * - SNAPBACK_PLAN, SNAPBACK_RUN_ID, SNAPBACK_HOOK (the `when`), SNAPBACK_HOOK_NAME
 * - SNAPBACK_SOURCES: one path per line (paths may contain ':' but never sensibly '\n')
 * - SNAPBACK_REPOSITORIES: comma-separated names (names cannot contain commas)
 * - SNAPBACK_STATUS: success | partial | failed | interrupted (success/failure/finally only)
 * - SNAPBACK_SNAPSHOT_IDS: repo=id,repo=id (when any backup was made)
 * - SNAPBACK_FILES_NEW, _FILES_CHANGED, _FILES_UNMODIFIED, _DATA_ADDED (bytes), _ERROR_COUNT:
 *   sums over the repositories that finished (when any did)
 * - SNAPBACK_RESULT_JSON: all of the above as one JSON object, per-repository figures included
 * - SNAPBACK_ERROR: why the run failed (when it did)
 */

/** Variables that carry an engine's password however they got into snapback's environment. */
const SECRET_NAMES = new Set([
  "RESTIC_PASSWORD",
  "RESTIC_PASSWORD_COMMAND",
  "RESTIC_PASSWORD_FILE",
  "KOPIA_PASSWORD",
]);

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface HookEnvInput {
  plan: string;
  when: HookWhen;
  hookName: string;
  facts: RunFacts;
  /** snapback's environment (process.env). */
  base: NodeJS.ProcessEnv;
  /** Values that must not reach a hook (passwords, repository env values). */
  secretValues: readonly string[];
}

export function hookEnvironment(input: HookEnvInput): Record<string, string> {
  const secrets = input.secretValues.filter((s) => s.length >= 3);
  const isSecret = (value: string): boolean =>
    redact(value) !== value || secrets.some((s) => value.includes(s));
  const scrub = (text: string): string => {
    let out = redact(text);
    for (const s of secrets) out = out.split(s).join("***");
    return out;
  };

  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(input.base)) {
    if (value === undefined || SECRET_NAMES.has(key) || key.startsWith("SNAPBACK_")) continue;
    if (isSecret(value)) continue;
    env[key] = value;
  }
  env["PATH"] ??= DEFAULT_PATH;

  const { facts } = input;
  const snapshotIds = snapshotIdsOf(facts);
  const showsStatus =
    input.when === "success" || input.when === "failure" || input.when === "finally";
  const status: HookRunStatus | undefined = showsStatus ? facts.status : undefined;
  const summaries = facts.summaries ?? [];
  const totals =
    summaries.length === 0
      ? undefined
      : {
          files_new: sum(summaries.map((s) => s.files_new)),
          files_changed: sum(summaries.map((s) => s.files_changed)),
          files_unmodified: sum(summaries.map((s) => s.files_unmodified)),
          data_added: sum(summaries.map((s) => s.data_added)),
          error_count: sum(summaries.map((s) => s.error_count ?? 0)),
        };
  const error = facts.error === undefined ? undefined : scrub(facts.error);

  env["SNAPBACK_PLAN"] = input.plan;
  env["SNAPBACK_RUN_ID"] = facts.runId;
  env["SNAPBACK_HOOK"] = input.when;
  env["SNAPBACK_HOOK_NAME"] = input.hookName;
  env["SNAPBACK_SOURCES"] = facts.sources.join("\n");
  if (facts.repositories) env["SNAPBACK_REPOSITORIES"] = facts.repositories.join(",");
  if (status !== undefined) env["SNAPBACK_STATUS"] = status;
  if (Object.keys(snapshotIds).length > 0) {
    env["SNAPBACK_SNAPSHOT_IDS"] = Object.entries(snapshotIds)
      .map(([repo, id]) => `${repo}=${id}`)
      .join(",");
  }
  if (totals) {
    env["SNAPBACK_FILES_NEW"] = String(totals.files_new);
    env["SNAPBACK_FILES_CHANGED"] = String(totals.files_changed);
    env["SNAPBACK_FILES_UNMODIFIED"] = String(totals.files_unmodified);
    env["SNAPBACK_DATA_ADDED"] = String(totals.data_added);
    env["SNAPBACK_ERROR_COUNT"] = String(totals.error_count);
  }
  if (error !== undefined) env["SNAPBACK_ERROR"] = error;
  env["SNAPBACK_RESULT_JSON"] = JSON.stringify({
    plan: input.plan,
    run_id: facts.runId,
    hook: input.when,
    ...(status === undefined ? {} : { status }),
    sources: facts.sources,
    ...(facts.repositories ? { repositories: facts.repositories } : {}),
    snapshot_ids: snapshotIds,
    ...(totals ? { totals } : {}),
    results: summaries.map((s) => ({
      repository: s.repository,
      snapshot_id: s.snapshot_id,
      files_new: s.files_new,
      files_changed: s.files_changed,
      files_unmodified: s.files_unmodified,
      data_added: s.data_added,
      ...(s.error_count === undefined ? {} : { error_count: s.error_count }),
      ...(s.duration_s === undefined ? {} : { duration_s: s.duration_s }),
    })),
    ...(error === undefined ? {} : { error }),
  });
  return env;
}

function snapshotIdsOf(facts: RunFacts): Record<string, string> {
  if (facts.snapshotIds) return { ...facts.snapshotIds };
  const ids: Record<string, string> = {};
  for (const s of facts.summaries ?? []) if (s.snapshot_id) ids[s.repository] = s.snapshot_id;
  return ids;
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
