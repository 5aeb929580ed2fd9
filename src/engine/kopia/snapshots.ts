import type { EngineSnapshot } from "../types.js";
import { runKopia, type KopiaOptions, type KopiaTarget } from "./command.js";
import { KopiaError } from "./errors.js";
import { parseJsonValues, parseManifests, type KopiaManifest } from "./messages.js";
import { PLAN_KEY, RUN_KEY, storedTag, tagsFromKopia } from "./tags.js";

/** A kopia snapshot (one source path) as snapback uses it. */
export interface KopiaSnapshot extends EngineSnapshot {
  manifest: KopiaManifest;
  plan: string | undefined;
  /** The run that made it; snapshots of one run share it (one per source path). */
  run: string | undefined;
}

export interface ListOptions extends KopiaOptions {
  /** Only the backups of this plan. */
  planName?: string;
}

/**
 * The repository's complete snapshots, oldest first. `--all`: every user@host (the JSON list
 * of some versions is limited to the client's own otherwise); a large `--max-results`: some
 * versions cut each source's list at 100.
 */
export async function listSnapshots(
  target: KopiaTarget,
  options: ListOptions = {},
): Promise<KopiaSnapshot[]> {
  const args = ["snapshot", "list", "--json", "--all", "--max-results=1000000"];
  if (options.planName !== undefined) args.push(`--tags=${PLAN_KEY}:${options.planName}`);
  const r = await runKopia(target, args, { ...options, action: "snapshot list" });
  if (r.stdout.trim() && parseJsonValues(r.stdout).length === 0) {
    throw new KopiaError(
      "other",
      target.repoName,
      `kopia snapshot list for repository "${target.repoName}" printed no valid JSON`,
    );
  }
  return toSnapshots(parseManifests(r.stdout), options.planName);
}

/** Complete manifests as snapshots, filtered by plan (again: an old kopia may ignore --tags). */
export function toSnapshots(manifests: KopiaManifest[], planName?: string): KopiaSnapshot[] {
  return manifests
    .filter((m) => !m.incomplete)
    .map(toSnapshot)
    .filter((s) => planName === undefined || s.plan === planName)
    .sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id));
}

export function toSnapshot(m: KopiaManifest): KopiaSnapshot {
  return {
    id: m.id,
    shortId: m.id.slice(0, 8),
    time: m.startTime,
    paths: [m.source.path],
    tags: tagsFromKopia(m.tags),
    host: m.source.host,
    manifest: m,
    plan: storedTag(m.tags, PLAN_KEY),
    run: storedTag(m.tags, RUN_KEY),
  };
}

/** The plain EngineSnapshot (no kopia internals), for listings. */
export function engineSnapshot(s: KopiaSnapshot): EngineSnapshot {
  return { id: s.id, shortId: s.shortId, time: s.time, paths: s.paths, tags: s.tags, host: s.host };
}

/** The snapshots of the same run as `s` (itself included); just `s` when it has no run tag. */
export function sameRun(all: readonly KopiaSnapshot[], s: KopiaSnapshot): KopiaSnapshot[] {
  if (s.run === undefined) return [s];
  return all.filter((o) => o.run === s.run && o.plan === s.plan);
}
