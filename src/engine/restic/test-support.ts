import { randomFillSync } from "node:crypto";
import { open } from "node:fs/promises";
import { repositorySchema, type Repository } from "../../config/schema.js";
import { resolveSecrets, type RepositorySecrets } from "../../config/secrets.js";
import type { CommandWrapper } from "../types.js";

/** Helpers for this folder's tests (never imported by product code). */

export { backupRequest, plan, tempDir, type RequestParts, type TempDir } from "../test-support.js";

export function resticRepo(url: string, passwordFile: string, extra: object = {}): Repository {
  return repositorySchema.parse({ engine: "restic", url, password_file: passwordFile, ...extra });
}

export async function secretsOf(repo: Repository): Promise<RepositorySecrets> {
  return resolveSecrets("test", repo);
}

/** An identity wrapper that records every argv it is given. */
export function recordingWrap(): {
  wrap: CommandWrapper;
  calls: { file: string; args: string[] }[];
} {
  const calls: { file: string; args: string[] }[] = [];
  return {
    calls,
    wrap: (file, args) => {
      calls.push({ file, args: [...args] });
      return { file, args };
    },
  };
}

/** Writes `mib` MiB of incompressible data (restic can neither dedupe nor compress it fast). */
export async function writeRandomFile(path: string, mib: number): Promise<void> {
  const fh = await open(path, "w");
  try {
    const buf = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < mib; i++) await fh.write(randomFillSync(buf));
  } finally {
    await fh.close();
  }
}
