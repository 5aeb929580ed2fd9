import { randomInt } from "node:crypto";
import { readDataSubsetProblem } from "../../config/read-data.js";
import { redactText } from "../../config/secrets.js";
import { UsageError } from "../../errors.js";
import type { BackupFile, RepositoryCheckReport, RestoreFilesResult } from "../types.js";
import { probeRestic, versionAtLeast } from "./binary.js";
import {
  resticBinaryOf,
  runRestic,
  resticRepository,
  type ResticOptions,
  type ResticTarget,
} from "./command.js";
import { displayUrl, secretValues } from "./env.js";
import { classifyFailure } from "./errors.js";
import { parseObject, stripEscapes } from "./messages.js";

export interface CheckOptions extends ResticOptions {
  /** "all" reads every pack; other values go to `--read-data-subset`. */
  readData?: string;
}

export function checkArgs(readData?: string): string[] {
  if (readData === undefined) return ["check"];
  const problem = readDataSubsetProblem(readData);
  if (problem !== undefined) throw new UsageError(`--read-data ${problem}`);
  return readData === "all"
    ? ["check", "--read-data"]
    : ["check", `--read-data-subset=${readData}`];
}

/**
 * `restic check` (optionally reading pack data back). A repository with errors is a report
 * with `ok: false`, not an exception; a repository that cannot be opened (password, lock,
 * network) throws as every other command does.
 */
export async function checkRepository(
  target: ResticTarget,
  options: CheckOptions = {},
): Promise<RepositoryCheckReport> {
  const repo = resticRepository(target);
  const binary = await probeRestic(resticBinaryOf(repo, options));
  // 0.18's `check --json`: findings as {"message_type":"error"} lines instead of free text.
  const json = versionAtLeast(binary.semver, 0, 18);
  const [cmd = "check", ...rest] = checkArgs(options.readData);
  const r = await runAccepting(
    target,
    json ? [cmd, "--json", ...rest] : [cmd, ...rest],
    "check",
    options,
  );
  const base = options.readData === undefined ? {} : { readData: options.readData };
  if (r.exitCode === 0) return { ok: true, ...base, errors: [] };
  const errors = problemLines(
    json
      ? [...jsonMessages(r.stderr, "error"), ...jsonMessages(r.stderr, "exit_error")].join("\n")
      : `${r.stdout}\n${r.stderr}`,
    secretValues(repo.url, target.secrets),
  );
  return {
    ok: false,
    ...base,
    errors: errors.length > 0 ? errors : [`restic check failed (exit ${r.exitCode ?? "?"})`],
  };
}

/**
 * Up to `count` regular files of a backup, chosen uniformly at random (reservoir sampling
 * over the `restic ls --json` stream: a backup of millions of files is never held in memory).
 */
export async function sampleFiles(
  target: ResticTarget,
  snapshotId: string,
  count: number,
  options: ResticOptions = {},
): Promise<{ files: BackupFile[]; total: number }> {
  const files: BackupFile[] = [];
  let total = 0;
  await runRestic(target, ["ls", "--json", snapshotId], {
    ...options,
    action: "ls",
    onStdoutLine: (line) => {
      const f = parseLsFile(line);
      if (!f) return;
      total++;
      if (files.length < count) files.push(f);
      else {
        const j = randomInt(total);
        if (j < count) files[j] = f;
      }
    },
  });
  return { files: files.sort((a, b) => a.path.localeCompare(b.path)), total };
}

/** A regular-file line of `restic ls --json` (0.14: struct_type; 0.17+: message_type). */
export function parseLsFile(line: string): BackupFile | undefined {
  const o = parseObject(line);
  if (o === undefined) return undefined;
  if ((o["message_type"] ?? o["struct_type"]) !== "node" || o["type"] !== "file") return undefined;
  const path = o["path"];
  const mtime = typeof o["mtime"] === "string" ? parseTimeNs(o["mtime"]) : undefined;
  if (typeof path !== "string" || mtime === undefined) return undefined;
  return { path, size: typeof o["size"] === "number" ? o["size"] : 0, mtimeNs: mtime };
}

/** RFC 3339 with up to nanoseconds ("2024-01-02T03:04:05.123456789+01:00") → ns since the epoch. */
export function parseTimeNs(text: string): bigint | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(text);
  if (!m?.[1] || !m[3]) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? "").padEnd(9, "0"));
}

/** A literal path as a restic include pattern: glob characters and backslashes escaped. */
export function literalPattern(path: string): string {
  return path.replace(/[\\*?[\]]/g, (c) => `\\${c}`);
}

/**
 * Restores exactly `paths` of a backup below `target`. restic restores every file it can and
 * exits 1 when some failed ("ignoring error for /x: ciphertext verification failed"): those
 * lines are returned, not thrown, so the caller can name the files.
 */
export async function restoreFiles(
  target: ResticTarget,
  req: { snapshotId: string; target: string; paths: string[] },
  options: ResticOptions = {},
): Promise<RestoreFilesResult> {
  const args = [
    "restore",
    req.snapshotId,
    `--target=${req.target}`,
    ...req.paths.map((p) => `--include=${literalPattern(p)}`),
  ];
  const r = await runAccepting(target, args, "restore", options);
  if (r.exitCode === 0) return { errors: [] };
  const errors = problemLines(r.stderr, secretValues(resticRepository(target).url, target.secrets));
  return {
    errors: errors.length > 0 ? errors : [`restic restore failed (exit ${r.exitCode ?? "?"})`],
  };
}

/**
 * Runs restic accepting exit 1 when restic says it finished with findings ("repository
 * contains errors", "There were N errors"); any other failure (password, lock, network) is
 * thrown as usual. The Fatal line decides, not the error text: a damaged blob reads
 * "ciphertext verification failed", which would otherwise look like a wrong password.
 */
async function runAccepting(
  target: ResticTarget,
  args: string[],
  action: string,
  options: ResticOptions,
) {
  const r = await runRestic(target, args, { ...options, action, okExitCodes: [0, 1] });
  if (r.exitCode === 1) {
    const fatal = [
      ...[...stripEscapes(r.stderr).matchAll(/^Fatal: (.*)$/gm)].map((m) => m[1] ?? ""),
      ...jsonMessages(r.stderr, "exit_error").map((m) => m.replace(/^Fatal: /, "")),
    ];
    const findings =
      fatal.length > 0 &&
      fatal.every((f) => /^(repository contains errors|There were \d+ errors)/.test(f));
    if (!findings) {
      const repo = resticRepository(target);
      throw classifyFailure({
        exitCode: r.exitCode,
        signal: r.signal,
        aborted: r.aborted,
        stderr: r.stderr,
        repoName: target.repoName,
        url: displayUrl(repo.url),
        action,
        secrets: secretValues(repo.url, target.secrets),
      });
    }
  }
  return r;
}

/** The `message` of every JSON line of one type (restic 0.17+ prints errors so with --json). */
function jsonMessages(text: string, type: "error" | "exit_error"): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const o = JSON.parse(line) as { message_type?: unknown; message?: unknown };
      if (o.message_type === type && typeof o.message === "string") out.push(o.message);
    } catch {
      // Not JSON after all: a plain line, never a finding.
    }
  }
  return out;
}

const NOISE =
  /^(using temporary cache|create (exclusive )?lock|load indexes|check all packs|check snapshots|read all data|read group|restoring <Snapshot|no errors were found|\[\d+:\d+\]|\d+ \/ \d+|Summary:)/i;

/** The lines of restic's output that describe a problem, secrets redacted, duplicates dropped. */
function problemLines(text: string, secrets: readonly string[]): string[] {
  const out: string[] = [];
  for (const raw of redactText(stripEscapes(text), secrets).split("\n")) {
    const line = raw.trim();
    if (!line || NOISE.test(line) || out.includes(line)) continue;
    out.push(line);
  }
  return out;
}
