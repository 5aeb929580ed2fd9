import { UsageError } from "../../errors.js";

/**
 * kopia tags are key:value pairs (`--tags key:value`, stored as "tag:key" → value). snapback's
 * tags are plain strings like restic's, so they map one to one: "plan:home" ⇄ plan=home,
 * "nightly" ⇄ nightly="" (kopia accepts an empty value), and back the same way.
 */

/** The tag key of the plan a backup belongs to; listings and "latest" are scoped by it. */
export const PLAN_KEY = "plan";
/** Groups the snapshots of one run: kopia makes one snapshot per source path. */
export const RUN_KEY = "snapback-run";
/** kopia's prefix for user tag keys in a manifest. */
const STORED_PREFIX = "tag:";

/** The `--tags` values for a backup of `planName` with the plan's own tags. */
export function backupTags(planName: string, planTags: readonly string[], runId: string): string[] {
  const seen = new Map<string, string>();
  const out: string[] = [];
  for (const t of planTags) {
    const [key = "", value] = splitTag(t);
    if (key === PLAN_KEY || key === RUN_KEY) {
      throw new UsageError(
        `plans.${planName}.tags: "${t}" uses the key "${key}", which snapback sets itself for kopia`,
      );
    }
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      throw new UsageError(
        `plans.${planName}.tags: "${earlier}" and "${t}" have the same key "${key}"; kopia keeps one value per tag key`,
      );
    }
    seen.set(key, t);
    out.push(`${key}:${value ?? ""}`);
  }
  out.push(`${PLAN_KEY}:${planName}`, `${RUN_KEY}:${runId}`);
  return out;
}

function splitTag(t: string): [string, string | undefined] {
  const i = t.indexOf(":");
  return i < 0 ? [t, undefined] : [t.slice(0, i), t.slice(i + 1)];
}

/** A manifest's tags as snapback reports them, sorted; the run tag is internal and left out. */
export function tagsFromKopia(stored: Record<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(stored)) {
    const key = k.startsWith(STORED_PREFIX) ? k.slice(STORED_PREFIX.length) : k;
    if (key === RUN_KEY) continue;
    out.push(v === "" ? key : `${key}:${v}`);
  }
  return out.sort();
}

export function storedTag(stored: Record<string, string>, key: string): string | undefined {
  return stored[`${STORED_PREFIX}${key}`];
}
