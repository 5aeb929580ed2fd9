import { constants } from "node:os";

/**
 * The JSON lines of `restic backup --json`, read defensively across restic 0.14 … 0.19.
 *
 * Sources: restic's internal/ui/backup/json.go (0.14: statusUpdate, verboseUpdate,
 * errorUpdate with a Go `error` value, summaryOutput with a short snapshot id) and
 * doc/075_scripting.rst (0.17+: error.message, data_added_packed, backup_start/backup_end,
 * full snapshot_id, verbose_status action "scan_finished", exit_error on stderr).
 * restic promises only additions; every field may be missing (Go's omitempty), so each one
 * has a default and unknown message types are ignored.
 */

export interface StatusMessage {
  type: "status";
  /** 0 … 1 */
  percentDone: number;
  totalFiles: number;
  filesDone: number;
  totalBytes: number;
  bytesDone: number;
  secondsElapsed: number;
  secondsRemaining: number | undefined;
  errorCount: number;
  currentFiles: string[];
}

export interface VerboseStatusMessage {
  type: "verbose_status";
  /** new, unchanged, modified, scan_finished (0.14 sends scan_finished as a "status"). */
  action: string;
  item: string;
  dataSize: number;
  totalFiles: number;
}

export interface ErrorMessage {
  type: "error";
  /** Best description restic gave; "unknown error" when 0.14 printed `"error":{}`. */
  message: string;
  during: string;
  item: string;
}

export interface SummaryMessage {
  type: "summary";
  filesNew: number;
  filesChanged: number;
  filesUnmodified: number;
  dirsNew: number;
  dirsChanged: number;
  dirsUnmodified: number;
  dataBlobs: number;
  treeBlobs: number;
  dataAdded: number;
  /** After compression (0.16+); undefined on older versions. */
  dataAddedPacked: number | undefined;
  totalFilesProcessed: number;
  totalBytesProcessed: number;
  totalDuration: number;
  backupStart: string | undefined;
  backupEnd: string | undefined;
  /** Short (0.14) or full id; absent when no snapshot was written. */
  snapshotId: string | undefined;
  dryRun: boolean;
}

/** restic >= 0.17 with --json ends a fatal run with this on stderr. */
export interface ExitErrorMessage {
  type: "exit_error";
  code: number;
  message: string;
}

/** A line that is not a JSON object: restic printed plain text. */
export interface LogLine {
  type: "log";
  line: string;
}

export type BackupMessage =
  StatusMessage | VerboseStatusMessage | ErrorMessage | SummaryMessage | ExitErrorMessage | LogLine;

type Json = Record<string, unknown>;

/** Parses one output line; undefined for blank lines and JSON messages of unknown type. */
export function parseBackupLine(raw: string): BackupMessage | undefined {
  // restic's terminal code may prefix lines with "clear line" escapes (ESC[2K).
  const line = stripEscapes(raw).trim();
  if (!line) return undefined;
  const obj = parseObject(line);
  if (obj === undefined) return { type: "log", line };
  switch (obj["message_type"]) {
    case "status":
      // 0.14 reports the end of the scan as a "status" with an action (verbose mode only).
      return typeof obj["action"] === "string" ? verboseStatus(obj) : status(obj);
    case "verbose_status":
      return verboseStatus(obj);
    case "error":
      return errorMessage(obj);
    case "summary":
      return summary(obj);
    case "exit_error":
      return { type: "exit_error", code: num(obj["code"]), message: str(obj["message"]) };
    default:
      return undefined;
  }
}

function status(o: Json): StatusMessage {
  const remaining = o["seconds_remaining"];
  return {
    type: "status",
    percentDone: num(o["percent_done"]),
    totalFiles: num(o["total_files"]),
    filesDone: num(o["files_done"]),
    totalBytes: num(o["total_bytes"]),
    bytesDone: num(o["bytes_done"]),
    secondsElapsed: num(o["seconds_elapsed"]),
    secondsRemaining:
      typeof remaining === "number" && Number.isFinite(remaining) ? remaining : undefined,
    errorCount: num(o["error_count"]),
    currentFiles: Array.isArray(o["current_files"])
      ? o["current_files"].filter((f): f is string => typeof f === "string")
      : [],
  };
}

function verboseStatus(o: Json): VerboseStatusMessage {
  return {
    type: "verbose_status",
    action: str(o["action"]),
    item: str(o["item"]),
    dataSize: num(o["data_size"]),
    totalFiles: num(o["total_files"]),
  };
}

function errorMessage(o: Json): ErrorMessage {
  return {
    type: "error",
    message: describeError(o["error"]),
    during: str(o["during"]),
    item: str(o["item"]),
  };
}

function summary(o: Json): SummaryMessage {
  const id = o["snapshot_id"];
  return {
    type: "summary",
    filesNew: num(o["files_new"]),
    filesChanged: num(o["files_changed"]),
    filesUnmodified: num(o["files_unmodified"]),
    dirsNew: num(o["dirs_new"]),
    dirsChanged: num(o["dirs_changed"]),
    dirsUnmodified: num(o["dirs_unmodified"]),
    dataBlobs: num(o["data_blobs"]),
    treeBlobs: num(o["tree_blobs"]),
    dataAdded: num(o["data_added"]),
    dataAddedPacked:
      typeof o["data_added_packed"] === "number" ? o["data_added_packed"] : undefined,
    totalFilesProcessed: num(o["total_files_processed"]),
    totalBytesProcessed: num(o["total_bytes_processed"]),
    totalDuration: num(o["total_duration"]),
    backupStart: optStr(o["backup_start"]),
    backupEnd: optStr(o["backup_end"]),
    snapshotId: typeof id === "string" && /^[0-9a-f]{8,64}$/.test(id) ? id : undefined,
    dryRun: o["dry_run"] === true,
  };
}

/**
 * restic 0.17+ encodes errors as {"message": "..."}; 0.14 marshals the Go error value itself,
 * which is `{}` for most errors and {"Op","Path","Err": errno} for an *os.PathError.
 */
export function describeError(e: unknown): string {
  if (typeof e === "string" && e) return e;
  if (e === null || typeof e !== "object") return "unknown error";
  const o = e as Json;
  if (typeof o["message"] === "string" && o["message"]) return o["message"];
  const op = str(o["Op"]);
  const path = str(o["Path"]);
  const cause = errnoText(o["Err"]);
  if (op || path) return `${[op, path].filter(Boolean).join(" ")}${cause ? `: ${cause}` : ""}`;
  return cause || "unknown error";
}

const ERRNO_TEXT: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOENT: "no such file or directory",
  EIO: "input/output error",
  ENOTDIR: "not a directory",
  EISDIR: "is a directory",
  ELOOP: "too many levels of symbolic links",
  ESTALE: "stale file handle",
  ENAMETOOLONG: "file name too long",
  EBUSY: "device or resource busy",
  ENXIO: "no such device or address",
};

function errnoText(err: unknown): string {
  if (typeof err === "string") return err;
  if (typeof err === "number") {
    const name = Object.entries(constants.errno).find(([, n]) => n === err)?.[0];
    return name ? (ERRNO_TEXT[name] ?? name) : `errno ${err}`;
  }
  if (err !== null && typeof err === "object") return describeError(err);
  return "";
}

/** One JSON object on one line (restic's messages, `ls --json` nodes, a lock); else undefined. */
export function parseObject(line: string): Json | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const v: unknown = JSON.parse(line);
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : undefined;
  } catch {
    return undefined;
  }
}

// eslint-disable-next-line no-control-regex
const ESCAPES = /\x1b\[[0-9;]*[A-Za-z]/g;

export function stripEscapes(s: string): string {
  return s.replace(ESCAPES, "");
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function optStr(v: unknown): string | undefined {
  return typeof v === "string" && v ? v : undefined;
}
