import { readFile, stat } from "node:fs/promises";
import { UsageError } from "../errors.js";
import { registerSecret } from "../log.js";

/**
 * Reads a database password file: the first line, refused when other users can read the
 * file. The value is registered for redaction, so no log line can carry it.
 */
export async function readPasswordFile(key: string, path: string): Promise<string> {
  let mode: number;
  try {
    mode = (await stat(path)).mode;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      `${key}: ${path} ${code === "ENOENT" ? "does not exist" : `cannot be read (${code})`}`,
    );
  }
  if ((mode & 0o044) !== 0) {
    throw new UsageError(
      `${key}: ${path} holds a secret but is readable by other users (mode ${(mode & 0o777).toString(8)})`,
      { hint: `run: chmod 600 ${path}` },
    );
  }
  const password = ((await readFile(path, "utf8")).split("\n")[0] ?? "").replace(/\r$/, "");
  if (!password) throw new UsageError(`${key}: ${path} is empty (the password is its first line)`);
  registerSecret(password);
  return password;
}
