import { randomBytes } from "node:crypto";
import { open, rm } from "node:fs/promises";
import { join } from "node:path";
import { UsageError } from "../errors.js";

/**
 * restic reads an --exclude-file line by line: it trims white space (Go's unicode.IsSpace)
 * at both ends, skips blank lines and lines starting with `#`, and expands `$VAR`/`${VAR}`
 * (`$$` is a literal `$`). A pattern is written so that restic reads it back unchanged.
 */
const GO_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;

function isSpace(c: string): boolean {
  return GO_SPACE.test(c);
}

/** One restic pattern as an exclude-file line. */
export function excludeFileLine(pattern: string): string {
  if (pattern.includes("\n")) {
    throw new UsageError(`exclude pattern ${JSON.stringify(pattern)} contains a newline`);
  }
  const chars = Array.from(pattern);
  // Trailing white space, escaped or not, becomes a one-character class: `[ ]`.
  const tail: string[] = [];
  for (;;) {
    const last = chars.at(-1);
    if (last === undefined || !isSpace(last)) break;
    chars.pop();
    let slashes = 0;
    while (chars[chars.length - 1 - slashes] === "\\") slashes++;
    if (slashes % 2 === 1) chars.pop();
    tail.unshift(`[${last}]`);
  }
  const head: string[] = [];
  while (chars.length > 0 && isSpace(chars[0] as string)) head.push(`[${chars.shift() as string}]`);
  if (head.length === 0 && chars[0] === "#") {
    chars.shift();
    head.push("[#]");
  }
  return [...head, ...chars, ...tail].join("").replaceAll("$", "$$$$");
}

/**
 * Writes `patterns` to a new file in `dir` for `restic backup --exclude-file` and returns
 * its path. Mode 0600: the patterns name users' paths. The caller removes the file.
 */
export async function writeExcludeFile(dir: string, patterns: readonly string[]): Promise<string> {
  const lines = patterns.filter((p) => p !== "").map(excludeFileLine);
  const path = join(dir, `snapback-exclude-${randomBytes(8).toString("hex")}`);
  const file = await open(path, "wx", 0o600);
  try {
    await file.chmod(0o600);
    await file.writeFile(lines.map((l) => `${l}\n`).join(""));
    await file.close();
  } catch (e) {
    await file.close().catch(() => undefined);
    await rm(path, { force: true });
    throw e;
  }
  return path;
}
