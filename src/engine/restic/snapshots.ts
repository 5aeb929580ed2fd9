import type { Repository } from "../../config/schema.js";
import type { RepositorySecrets } from "../../config/secrets.js";
import type { EngineSnapshot } from "../types.js";
import { runRestic, type ResticOptions, type ResticTarget } from "./command.js";
import { parsedOutput } from "./errors.js";

/** The tag every backup of a plan carries; listings and "latest" are scoped by it. */
export function planTag(planName: string): string {
  return `plan:${planName}`;
}

/** The plan a snapshot belongs to, read back from its tags. */
export function planFromTags(tags: readonly string[]): string | undefined {
  return tags.find((t) => t.startsWith("plan:"))?.slice("plan:".length);
}

export interface ListSnapshotsOptions extends ResticOptions {
  /** Only the backups of this plan. */
  planName?: string;
  /**
   * Also the snapshots carrying any of these tags (a plan's database dumps): restic ORs
   * repeated `--tag` options (a comma inside one means AND), so it is still one call.
   */
  orTags?: readonly string[];
  /** Snapshot ids or prefixes to show (default: all). */
  ids?: string[];
  /** Read without a lock (e.g. right after our own backup). */
  noLock?: boolean;
}

/** The repository's snapshots, oldest first. */
export async function listSnapshots(
  repoName: string,
  repo: Repository,
  secrets: RepositorySecrets,
  options: ListSnapshotsOptions = {},
): Promise<EngineSnapshot[]> {
  return listTargetSnapshots({ repoName, repo, secrets }, options);
}

export async function listTargetSnapshots(
  target: ResticTarget,
  options: ListSnapshotsOptions = {},
): Promise<EngineSnapshot[]> {
  const args = ["snapshots", "--json"];
  if (options.noLock) args.push("--no-lock");
  if (options.planName !== undefined) args.push(`--tag=${planTag(options.planName)}`);
  for (const tag of options.orTags ?? []) args.push(`--tag=${tag}`);
  if (options.ids?.length) args.push("--", ...options.ids);
  const r = await runRestic(target, args, { ...options, action: "snapshots" });
  return parsedOutput(target.repoName, "snapshots", () => parseSnapshots(r.stdout));
}

/** Parses `restic snapshots --json` (an array; restic 0.14 … 0.19). */
export function parseSnapshots(json: string): EngineSnapshot[] {
  const data: unknown = JSON.parse(json.trim() || "[]");
  if (!Array.isArray(data)) throw new Error("not a JSON array");
  const out: EngineSnapshot[] = [];
  for (const item of data as unknown[]) {
    const s = toSnapshot(item);
    if (s) out.push(s);
  }
  return out.sort((a, b) => a.time.localeCompare(b.time));
}

/** One snapshot object as restic prints it (snapshots, ls, forget). */
export function toSnapshot(item: unknown): EngineSnapshot | undefined {
  if (item === null || typeof item !== "object") return undefined;
  const o = item as Record<string, unknown>;
  const id = o["id"];
  if (typeof id !== "string" || !id) return undefined;
  const shortId = o["short_id"];
  return {
    id,
    shortId: typeof shortId === "string" && shortId ? shortId : id.slice(0, 8),
    time: isoTime(o["time"]),
    paths: strings(o["paths"]),
    tags: strings(o["tags"]),
    host: typeof o["hostname"] === "string" ? o["hostname"] : "",
  };
}

/** restic prints RFC 3339 with nanoseconds and the local offset; snapback reports UTC ISO 8601. */
function isoTime(v: unknown): string {
  if (typeof v !== "string") return "";
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? v : d.toISOString();
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}
