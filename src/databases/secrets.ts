import { readSecretFile } from "../config/secrets.js";
import { registerSecret } from "../log.js";

/**
 * Reads a database password file: the first line, refused when other users can read the
 * file (the same rules as a repository's password_file). The value is registered for
 * redaction, so no log line can carry it.
 */
export async function readPasswordFile(key: string, path: string): Promise<string> {
  const password = await readSecretFile(key, path);
  registerSecret(password);
  return password;
}
