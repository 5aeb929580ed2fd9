import { createWriteStream } from "node:fs";
import { chmod, chown, lstat, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Writable } from "node:stream";
import type { StreamSink } from "../engine/types.js";
import { SnapbackError, UsageError } from "../errors.js";
import type { DumpFormat } from "./naming.js";
import { integrityCheck } from "./sqlite.js";
import { journaledTempDir } from "./tempdir.js";

/**
 * Where a restored dump can go besides a database: a file (written beside it under a
 * temporary name and renamed into place only when complete, so a failed restore never
 * leaves a truncated dump or database at the path) or stdout.
 */

export interface FileTarget {
  path: string;
  overwrite: boolean;
  format: DumpFormat;
  stateDir: string;
  plan: string;
}

/** Refuses a target that exists (without overwrite), is a directory, or has no parent dir. */
export async function checkFileTarget(path: string, overwrite: boolean): Promise<void> {
  const parent = await stat(dirname(path)).catch(() => undefined);
  if (!parent?.isDirectory())
    throw new UsageError(`--to-file ${path}: the directory ${dirname(path)} does not exist`);
  const st = await lstat(path).catch(() => undefined);
  if (!st) return;
  if (st.isDirectory())
    throw new UsageError(`--to-file ${path}: is a directory (name the file to write)`);
  if (!overwrite) {
    throw new UsageError(`--to-file ${path} exists`, {
      hint: "pass --overwrite to replace it, or name another file",
    });
  }
}

/**
 * Runs `write` with a sink into a temp file beside `t.path`, then puts the file in place. A
 * SQLite database must pass `PRAGMA integrity_check` first. A replaced file's owner and mode
 * are kept; otherwise the new file is 0600 (a dump holds all of the database's data).
 */
export async function writeFileAtomically<T>(
  t: FileTarget,
  write: (sink: StreamSink) => Promise<T>,
): Promise<T> {
  await checkFileTarget(t.path, t.overwrite);
  await using dir = await journaledTempDir(
    t.stateDir,
    t.plan,
    dirname(t.path),
    `.snapback-restore-${basename(t.path)}-`,
  );
  const part = join(dir.path, "part");
  const stream = createWriteStream(part, { mode: 0o600, flags: "wx" });
  const result = await write({ kind: "writable", label: `writing ${t.path}`, stream });
  if (t.format === "sqlite") {
    const check = await integrityCheck(part);
    if (check !== "ok")
      throw new SnapbackError(
        `the restored SQLite database fails PRAGMA integrity_check: ${check}; ${t.path} was not touched`,
      );
  }
  const old = await stat(t.path).catch(() => undefined);
  if (old) {
    await chown(part, old.uid, old.gid);
    await chmod(part, old.mode & 0o7777);
  }
  if (t.format === "sqlite") {
    // A journal or WAL left by the replaced database would be replayed into the restored one.
    for (const suffix of ["-wal", "-shm", "-journal"])
      await rm(`${t.path}${suffix}`, { force: true });
  }
  await rename(part, t.path);
  return result;
}

/** A sink for stdout that ends and destroys only itself, never the process's stdout. */
export function stdoutSink(out: NodeJS.WritableStream = process.stdout): StreamSink {
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      out.write(chunk, (e) => callback(e ?? null));
    },
  });
  return { kind: "writable", label: "writing to stdout", stream };
}
