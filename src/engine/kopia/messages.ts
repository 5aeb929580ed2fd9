/**
 * kopia's JSON, read defensively. Sources: kopia's snapshot/manifest.go (Manifest: id,
 * source{host,userName,path}, description, startTime, endTime, stats, incomplete, rootEntry,
 * tags, pins), snapshot/stats.go (totalSize, excludedTotalSize, fileCount, cachedFiles,
 * nonCachedFiles, dirCount, excludedFileCount, excludedDirCount, ignoredErrorCount,
 * errorCount), fs/entry.go (DirectorySummary "summ": size, files, symlinks, dirs, maxTime,
 * incomplete, numFailed, numIgnoredErrors, errors[{path,error}]), cli/json_output.go
 * (`--json` prints a manifest without "stats" unless `--json-verbose`; lists are "[" items
 * joined by ",\n " "]"), cli/command_snapshot_list.go (items carry "retentionReason").
 * Every field may be missing; timestamps are RFC 3339 in UTC with nanoseconds.
 */

export interface KopiaStats {
  totalSize: number;
  fileCount: number;
  cachedFiles: number;
  nonCachedFiles: number;
  dirCount: number;
  excludedFileCount: number;
  excludedDirCount: number;
  ignoredErrorCount: number;
  errorCount: number;
}

export interface KopiaDirSummary {
  size: number;
  files: number;
  dirs: number;
  symlinks: number;
  numFailed: number;
  numIgnoredErrors: number;
  errors: { path: string; error: string }[];
}

export interface KopiaManifest {
  id: string;
  source: { host: string; userName: string; path: string };
  description: string;
  startTime: string;
  endTime: string;
  /** Present only when kopia printed it (`--json-verbose`, or snapshot list). */
  stats: KopiaStats | undefined;
  /** Why the snapshot is incomplete ("canceled", "limit reached", …); "" when complete. */
  incomplete: string;
  rootObject: string;
  rootType: string;
  summary: KopiaDirSummary | undefined;
  /** As stored: user tags carry kopia's "tag:" key prefix. */
  tags: Record<string, string>;
  /** snapshot list: why the effective retention policy keeps it; undefined when not printed. */
  retentionReasons: string[] | undefined;
}

type Json = Record<string, unknown>;

/**
 * Every top-level JSON value in `text`, in order: kopia prints one manifest per source for
 * `snapshot create --json` (one a line, or indented with --json-indent), one array for lists.
 * Text between values (a stray log line) is skipped.
 */
export function parseJsonValues(text: string): unknown[] {
  const values: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === "\\") escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      if (depth > 0) inString = true;
    } else if (c === "{" || c === "[") {
      if (depth === 0) start = i;
      depth++;
    } else if ((c === "}" || c === "]") && depth > 0) {
      depth--;
      if (depth === 0 && start >= 0) {
        try {
          values.push(JSON.parse(text.slice(start, i + 1)));
        } catch {
          // Not JSON after all (a bracket in a log line): skip it.
        }
        start = -1;
      }
    }
  }
  return values;
}

/** The manifests in kopia's output, arrays flattened; items that are not manifests are dropped. */
export function parseManifests(text: string): KopiaManifest[] {
  const out: KopiaManifest[] = [];
  for (const v of parseJsonValues(text)) {
    for (const item of Array.isArray(v) ? (v as unknown[]) : [v]) {
      const m = parseManifest(item);
      if (m) out.push(m);
    }
  }
  return out;
}

export function parseManifest(v: unknown): KopiaManifest | undefined {
  const o = obj(v);
  if (!o) return undefined;
  const id = o["id"];
  const source = obj(o["source"]);
  const path = source?.["path"];
  if (typeof id !== "string" || !id || typeof path !== "string" || !path) return undefined;
  const root = obj(o["rootEntry"]);
  const reasons = o["retentionReason"];
  return {
    id,
    source: { host: str(source?.["host"]), userName: str(source?.["userName"]), path },
    description: str(o["description"]),
    startTime: isoTime(o["startTime"]),
    endTime: isoTime(o["endTime"]),
    stats: stats(o["stats"]),
    incomplete: str(o["incomplete"]),
    rootObject: str(root?.["obj"]),
    rootType: str(root?.["type"]),
    summary: dirSummary(root?.["summ"]),
    tags: stringMap(o["tags"]),
    retentionReasons: Array.isArray(reasons)
      ? reasons.filter((r): r is string => typeof r === "string")
      : undefined,
  };
}

function stats(v: unknown): KopiaStats | undefined {
  const o = obj(v);
  if (!o) return undefined;
  return {
    totalSize: num(o["totalSize"]),
    fileCount: num(o["fileCount"]),
    cachedFiles: num(o["cachedFiles"]),
    nonCachedFiles: num(o["nonCachedFiles"]),
    dirCount: num(o["dirCount"]),
    excludedFileCount: num(o["excludedFileCount"]),
    excludedDirCount: num(o["excludedDirCount"]),
    ignoredErrorCount: num(o["ignoredErrorCount"]),
    // kopia before 0.8 named it readErrors.
    errorCount: num(o["errorCount"] ?? o["readErrors"]),
  };
}

function dirSummary(v: unknown): KopiaDirSummary | undefined {
  const o = obj(v);
  if (!o) return undefined;
  const errors: { path: string; error: string }[] = [];
  if (Array.isArray(o["errors"])) {
    for (const e of o["errors"] as unknown[]) {
      const eo = obj(e);
      if (eo) errors.push({ path: str(eo["path"]), error: str(eo["error"]) });
    }
  }
  return {
    size: num(o["size"]),
    files: num(o["files"]),
    dirs: num(o["dirs"]),
    symlinks: num(o["symlinks"]),
    numFailed: num(o["numFailed"]),
    numIgnoredErrors: num(o["numIgnoredErrors"]),
    errors,
  };
}

/** Files that could not be read, as kopia counted them (fatal and ignored errors alike). */
export function manifestErrorCount(m: KopiaManifest): number {
  const fromSummary = m.summary ? m.summary.numFailed + m.summary.numIgnoredErrors : 0;
  const fromStats = m.stats ? m.stats.errorCount + m.stats.ignoredErrorCount : 0;
  return Math.max(fromSummary, fromStats);
}

/** One entry of a directory object as `kopia show <dir-object>` prints it (snapshot.DirEntry). */
export interface KopiaDirEntry {
  name: string;
  /** "f" file, "d" directory, "s" symlink. */
  type: string;
  size: number;
  /** RFC 3339 with nanoseconds, as kopia stored it. */
  mtime: string;
  obj: string;
}

/** The entries of a directory manifest ({"stream":"kopia:directory","entries":[…]}). */
export function parseDirEntries(text: string): KopiaDirEntry[] | undefined {
  const [first] = parseJsonValues(text);
  const o = obj(first);
  if (!o || !Array.isArray(o["entries"])) return undefined;
  const out: KopiaDirEntry[] = [];
  for (const e of o["entries"] as unknown[]) {
    const eo = obj(e);
    const name = eo?.["name"];
    if (!eo || typeof name !== "string" || !name) continue;
    out.push({
      name,
      type: str(eo["type"]),
      size: num(eo["size"]),
      mtime: str(eo["mtime"]),
      obj: str(eo["obj"]),
    });
  }
  return out;
}

/**
 * Nanoseconds since the epoch of an RFC 3339 timestamp, exact to the nanosecond (Date keeps
 * only milliseconds). Undefined when it is not one.
 */
export function rfc3339ToNs(s: string): bigint | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(s.trim());
  if (!m?.[1] || !m[3]) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  const frac = (m[2] ?? "").padEnd(9, "0");
  return BigInt(ms) * 1_000_000n + BigInt(frac);
}

/** kopia prints RFC 3339 with nanoseconds; snapback reports UTC ISO 8601 with milliseconds. */
function isoTime(v: unknown): string {
  if (typeof v !== "string") return "";
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? v : d.toISOString();
}

function obj(v: unknown): Json | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : undefined;
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function stringMap(v: unknown): Record<string, string> {
  const o = obj(v);
  const out: Record<string, string> = {};
  if (!o) return out;
  for (const [k, val] of Object.entries(o)) if (typeof val === "string") out[k] = val;
  return out;
}
