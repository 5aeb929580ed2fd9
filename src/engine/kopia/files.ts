import { randomInt } from "node:crypto";
import { join, posix } from "node:path";
import { UsageError } from "../../errors.js";
import type { BackupFile, RestoreFilesRequest, RestoreFilesResult } from "../types.js";
import { failure, runKopia, type KopiaOptions, type KopiaTarget } from "./command.js";
import { mainLine } from "./errors.js";
import { parseDirEntries, rfc3339ToNs } from "./messages.js";
import { listSnapshots, sameRun, type KopiaSnapshot } from "./snapshots.js";

/** The snapshots a backup id stands for (its whole run); ids may be comma-separated. */
async function backupSnapshots(
  target: KopiaTarget,
  snapshotId: string,
  options: KopiaOptions,
): Promise<KopiaSnapshot[]> {
  const all = await listSnapshots(target, options);
  const out = new Map<string, KopiaSnapshot>();
  for (const id of snapshotId
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const matches = all.filter((s) => s.id.startsWith(id));
    const [first] = matches;
    if (!first || matches.length > 1) {
      throw new UsageError(
        `repository "${target.repoName}" has ${first ? "several backups" : "no backup"} ${id}`,
      );
    }
    for (const s of sameRun(all, first)) out.set(s.id, s);
  }
  return [...out.values()];
}

/**
 * Every regular file of a backup with its recorded size and mtime (nanoseconds), read from
 * kopia's directory objects (`kopia show <object>` prints a directory as JSON; `kopia ls`
 * would round mtimes to the second). One kopia process per directory.
 */
export async function listFiles(
  target: KopiaTarget,
  snapshotId: string,
  options: KopiaOptions = {},
): Promise<BackupFile[]> {
  const files: BackupFile[] = [];
  for (const s of await backupSnapshots(target, snapshotId, options)) {
    const m = s.manifest;
    if (m.rootType !== "" && m.rootType !== "d") continue;
    const queue: { obj: string; path: string }[] = [{ obj: m.rootObject, path: m.source.path }];
    for (let dir = queue.shift(); dir; dir = queue.shift()) {
      const r = await runKopia(target, ["show", dir.obj], { ...options, action: "show" });
      const entries = parseDirEntries(r.stdout);
      if (!entries) throw failure(target, `show ${dir.obj}`, { ...r, exitCode: r.exitCode ?? 1 });
      for (const e of entries) {
        const path = posix.join(dir.path, e.name);
        if (e.type === "d") queue.push({ obj: e.obj, path });
        else if (e.type === "f")
          files.push({ path, size: e.size, mtimeNs: rfc3339ToNs(e.mtime) ?? 0n });
      }
    }
  }
  return files;
}

/** Up to `count` files of the backup chosen at random, and how many it holds. */
export async function sampleFiles(
  target: KopiaTarget,
  snapshotId: string,
  count: number,
  options: KopiaOptions = {},
): Promise<{ files: BackupFile[]; total: number }> {
  const all = await listFiles(target, snapshotId, options);
  const pool = [...all];
  const picked: BackupFile[] = [];
  while (picked.length < count && pool.length > 0) {
    const [f] = pool.splice(randomInt(pool.length), 1);
    if (f) picked.push(f);
  }
  return { files: picked, total: all.length };
}

/** Restores exactly these files (each at <target>/<original path>); per-file errors are reported, not thrown. */
export async function restoreFiles(
  target: KopiaTarget,
  req: RestoreFilesRequest,
  options: KopiaOptions = {},
): Promise<RestoreFilesResult> {
  const snaps = await backupSnapshots(target, req.snapshotId, { ...options, signal: req.signal });
  const errors: string[] = [];
  for (const p of req.paths) {
    const holder = snaps
      .filter((s) => p.startsWith(`${s.manifest.source.path}/`) || s.manifest.source.path === "/")
      .sort((a, b) => b.manifest.source.path.length - a.manifest.source.path.length)[0];
    if (!holder) {
      errors.push(`${p}: not in backup ${req.snapshotId}`);
      continue;
    }
    const rel = posix.relative(holder.manifest.source.path, p);
    const r = await runKopia(target, ["restore", `${holder.id}/${rel}`, join(req.target, p)], {
      ...options,
      signal: req.signal,
      action: "restore",
      okExitCodes: [0, 1],
    });
    if (r.exitCode === 0) continue;
    const f = failure(target, "restore", r);
    if (f.kind !== "other") throw f;
    errors.push(`${p}: ${mainLine(r.stderr) || "kopia restore failed"}`);
  }
  return { errors };
}
