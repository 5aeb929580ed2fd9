import { planSchema, type Plan, type Repository } from "../config/schema.js";
import type { RepositorySecrets } from "../config/secrets.js";
import type { BackupProgress, BackupRequest, CommandWrapper } from "./types.js";

/** Helpers for the engines' tests (never imported by product code). */

export { tempDir, type TempDir } from "../../test/fixtures/tempdir.js";

/** A plan backing up `sources` to the repository "test". */
export function plan(sources: string[], extra: object = {}): Plan {
  return planSchema.parse({ sources, repositories: ["test"], ...extra });
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

/** A backup of plan "home" (unless named) into repository "test" from host "test-host". */
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
