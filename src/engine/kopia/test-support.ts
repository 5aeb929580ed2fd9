import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { repositorySchema } from "../../config/schema.js";
import { backupRequest as sharedBackupRequest, type RequestParts } from "../test-support.js";
import type { BackupRequest } from "../types.js";
import type { KopiaRepository } from "./command.js";

/** Helpers for this folder's tests and test/kopia.e2e.test.ts (never imported by product code). */

export const FAKE_KOPIA_DIR = resolve(import.meta.dirname, "../../../test/fixtures/fake-kopia");
export const FAKE_KOPIA = join(FAKE_KOPIA_DIR, "kopia");
export const FAKE_PASSWORD = "correct horse kopia";

export interface FakeCall {
  argv: string[];
  command: string;
  env: Record<string, string>;
  sources: {
    path: string;
    writable?: boolean;
    writeError?: string;
    marker?: string | null;
    hang?: boolean;
  }[];
}

export interface FakeManifest {
  id: string;
  source: { host: string; userName: string; path: string };
  tags?: Record<string, string>;
}

export interface FakeKopiaRepo extends AsyncDisposable {
  dir: string;
  /** The kopia config file (as `kopia repository connect --config-file` would write it). */
  configFile: string;
  /** The stand-in's "repository" (storage.config.path). */
  repoDir: string;
  cacheDir: string;
  passwordFile: string;
  /** A kopia repository entry of snapback's config for this repository. */
  repository(extra?: object): KopiaRepository;
  setMode(mode: string): Promise<void>;
  calls(): Promise<FakeCall[]>;
  manifests(): Promise<FakeManifest[]>;
  policies(): Promise<
    Record<string, { ignore?: string[]; keepLatest?: number; keepDaily?: number }>
  >;
}

/** A "connected" repository of the stand-in: config file, repository dir, password file. */
export async function createFakeKopiaRepo(
  opts: { hostname?: string; connected?: boolean } = {},
): Promise<FakeKopiaRepo> {
  const dir = await mkdtemp(join(tmpdir(), "snapback-test-kopia-"));
  const repoDir = join(dir, "repo");
  const cacheDir = join(dir, "cache");
  const configFile = join(dir, "config", "repository.config");
  const passwordFile = join(dir, "password");
  await mkdir(repoDir, { recursive: true });
  await writeFile(join(repoDir, "fake.json"), JSON.stringify({ password: FAKE_PASSWORD }));
  await writeFile(passwordFile, `${FAKE_PASSWORD}\n`);
  await chmod(passwordFile, 0o600);
  if (opts.connected !== false) {
    await mkdir(join(dir, "config"), { recursive: true });
    await writeFile(
      configFile,
      JSON.stringify({
        storage: { type: "filesystem", config: { path: repoDir } },
        // Relative, as kopia writes it: resolved against the config file's directory.
        caching: { cacheDirectory: "../cache", maxCacheSize: 5242880000 },
        hostname: opts.hostname ?? "test-host",
        username: "root",
        description: "Repository in Filesystem",
      }),
    );
  }
  const readJson = async <T>(file: string, fallback: T): Promise<T> => {
    try {
      return JSON.parse(await readFile(file, "utf8")) as T;
    } catch {
      return fallback;
    }
  };
  return {
    dir,
    configFile,
    repoDir,
    cacheDir,
    passwordFile,
    repository: (extra = {}) =>
      repositorySchema.parse({
        engine: "kopia",
        config_file: configFile,
        password_file: passwordFile,
        ...extra,
      }) as KopiaRepository,
    setMode: (mode) => writeFile(join(repoDir, "mode"), mode),
    async calls() {
      let text: string;
      try {
        text = await readFile(join(repoDir, "calls.jsonl"), "utf8");
      } catch {
        return [];
      }
      return text
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as FakeCall);
    },
    async manifests() {
      return (
        (await readJson<{ manifests?: FakeManifest[] }>(join(repoDir, "fake.json"), {}))
          .manifests ?? []
      );
    },
    async policies() {
      return (
        (await readJson<{ policies?: Record<string, never> }>(join(repoDir, "fake.json"), {}))
          .policies ?? {}
      );
    },
    async [Symbol.asyncDispose]() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export { plan } from "../test-support.js";

/** A backup request into a fake kopia repository, with FAKE_PASSWORD unless told. */
export function backupRequest(
  parts: Omit<RequestParts, "repo" | "secrets"> & { repo: KopiaRepository; password?: string },
): BackupRequest {
  return sharedBackupRequest({
    ...parts,
    secrets: { password: parts.password ?? FAKE_PASSWORD, env: {} },
  });
}
