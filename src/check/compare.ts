import { lstat, open } from "node:fs/promises";
import type { BigIntStats } from "node:fs";
import type { BackupFile } from "../engine/types.js";

/** How one spot-checked file fared. */
export interface SpotFile {
  path: string;
  /** ok: identical; mismatch: the backup does not give back the source; changed: the source changed since the backup. */
  status: "ok" | "mismatch" | "changed";
  problems: string[];
}

/**
 * Compares a restored file with the same file in a snapshot of the source. When the
 * snapshot's file no longer has the size and mtime the backup recorded, it changed since the
 * backup and is not held against the backup.
 */
export async function compareFile(
  recorded: BackupFile,
  restoredPath: string,
  sourcePath: string,
  restoreErrors: string[],
): Promise<SpotFile> {
  const path = recorded.path;
  const source = await stat(sourcePath);
  if (!source) return { path, status: "changed", problems: ["deleted since the backup"] };
  if (!source.isFile()) return { path, status: "changed", problems: ["no longer a regular file"] };
  if (source.size !== BigInt(recorded.size) || source.mtimeNs !== recorded.mtimeNs) {
    return {
      path,
      status: "changed",
      problems: [`changed since the backup (${describeChange(recorded, source)})`],
    };
  }

  const problems = restoreErrors.filter((e) => e.includes(path)).map((e) => `restic: ${e}`);
  const restored = await stat(restoredPath);
  if (!restored) {
    problems.push("not restored");
    return { path, status: "mismatch", problems };
  }
  if (!restored.isFile()) problems.push("restored as something other than a regular file");
  else {
    const diff = await firstDifference(restoredPath, sourcePath);
    if (diff !== undefined) problems.push(`content differs from byte ${diff}`);
  }
  const mode = Number(restored.mode & 0o7777n);
  const want = Number(source.mode & 0o7777n);
  if (mode !== want) problems.push(`mode ${octal(mode)}, source ${octal(want)}`);
  if (restored.mtimeNs !== source.mtimeNs)
    problems.push(`mtime ${nsIso(restored.mtimeNs)}, source ${nsIso(source.mtimeNs)}`);
  return { path, status: problems.length > 0 ? "mismatch" : "ok", problems };
}

async function stat(path: string): Promise<BigIntStats | undefined> {
  try {
    return await lstat(path, { bigint: true });
  } catch {
    return undefined;
  }
}

const CHUNK = 1 << 20;

/** Offset of the first differing byte (or of the end of the shorter file), undefined if equal. */
export async function firstDifference(a: string, b: string): Promise<number | undefined> {
  const fa = await open(a, "r");
  try {
    const fb = await open(b, "r");
    try {
      const ba = Buffer.alloc(CHUNK);
      const bb = Buffer.alloc(CHUNK);
      let offset = 0;
      for (;;) {
        const [ra, rb] = await Promise.all([fill(fa, ba, offset), fill(fb, bb, offset)]);
        const n = Math.min(ra, rb);
        for (let i = 0; i < n; i++) if (ba[i] !== bb[i]) return offset + i;
        if (ra !== rb) return offset + n;
        if (ra === 0) return undefined;
        offset += ra;
      }
    } finally {
      await fb.close();
    }
  } finally {
    await fa.close();
  }
}

/** Reads until the buffer is full or the file ends (a read may return less than asked). */
async function fill(
  fh: Awaited<ReturnType<typeof open>>,
  buf: Buffer,
  position: number,
): Promise<number> {
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}

function describeChange(recorded: BackupFile, now: BigIntStats): string {
  const parts: string[] = [];
  if (now.size !== BigInt(recorded.size)) parts.push(`size ${recorded.size} → ${now.size}`);
  if (now.mtimeNs !== recorded.mtimeNs)
    parts.push(`mtime ${nsIso(recorded.mtimeNs)} → ${nsIso(now.mtimeNs)}`);
  return parts.join(", ");
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, "0")}`;
}

/** ISO 8601 with the full nanoseconds: mtimes that differ below a millisecond must read differently. */
export function nsIso(ns: bigint): string {
  const frac = ((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n;
  const secs = (ns - frac) / 1_000_000_000n;
  const base = new Date(Number(secs) * 1000).toISOString().replace(/\.\d{3}Z$/, "");
  return `${base}.${frac.toString().padStart(9, "0")}Z`;
}
