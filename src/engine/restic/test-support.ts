import { randomFillSync } from "node:crypto";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { planSchema, repositorySchema, type Plan, type Repository } from "../../config/schema.js";
import { resolveSecrets, type RepositorySecrets } from "../../config/secrets.js";
import type { BackupProgress, BackupRequest, CommandWrapper } from "../types.js";

/** Helpers for this folder's tests (never imported by product code). */

export interface TempDir extends AsyncDisposable {
  path: string;
}

export async function tempDir(prefix: string): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), `snapback-test-${prefix}-`));
  return {
    path,
    async [Symbol.asyncDispose]() {
      await rm(path, { recursive: true, force: true });
    },
  };
}

export function resticRepo(url: string, passwordFile: string, extra: object = {}): Repository {
  return repositorySchema.parse({ engine: "restic", url, password_file: passwordFile, ...extra });
}

export function plan(sources: string[], extra: object = {}): Plan {
  return planSchema.parse({ sources, repositories: ["test"], ...extra });
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

export interface RequestParts {
  planName?: string;
  plan: Plan;
  repo: Repository;
  secrets: RepositorySecrets;
  paths: string[];
  extraExcludes?: string[];
  wrap?: CommandWrapper;
  signal?: AbortSignal;
  onProgress?: (p: BackupProgress) => void;
  warnings?: string[];
}

export function backupRequest(parts: RequestParts): BackupRequest {
  return {
    planName: parts.planName ?? "home",
    plan: parts.plan,
    repoName: "test",
    repo: parts.repo,
    secrets: parts.secrets,
    paths: parts.paths,
    extraExcludes: parts.extraExcludes ?? [],
    host: "test-host",
    wrap: parts.wrap ?? ((file, args) => ({ file, args })),
    env: {},
    signal: parts.signal ?? new AbortController().signal,
    onProgress: parts.onProgress ?? (() => undefined),
    onWarning: (m) => parts.warnings?.push(m),
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
