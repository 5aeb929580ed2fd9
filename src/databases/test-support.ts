import "disposablestack/auto";
import { readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import { createTestRepo, type TestRepo } from "../../test/fixtures/restic.js";
import { tempDir } from "../../test/fixtures/tempdir.js";
import { repositorySchema, type ResticRepository } from "../config/schema.js";
import { resolveSecrets } from "../config/secrets.js";
import { ResticEngine } from "../engine/restic-engine.js";
import type { RunEvent } from "../core/events.js";
import type { DumpContext, DumpRun } from "./dump.js";
import type { RestoreDatabaseRequest } from "./restore.js";
import type { DatabaseSummaryEvent } from "../core/events.js";
import { databasesSchema } from "../config/databases.js";

/** Helpers for this folder's tests (never imported by product code). */

export { tempDir, type TempDir } from "../../test/fixtures/tempdir.js";

export async function engineFor(t: TestRepo): Promise<ResticEngine> {
  const repo = repositorySchema.parse({
    engine: "restic",
    url: t.url,
    password_file: t.passwordFile,
  }) as ResticRepository;
  return new ResticEngine("r", repo, await resolveSecrets("r", repo), join(t.dir, "cache"));
}

/** What a dump test works with: a restic repository, its engine "r" and a temp dir. */
export interface DumpSetup extends AsyncDisposable {
  repo: TestRepo;
  engine: ResticEngine;
  /** The run's temp dir and the restore's state live here. */
  dir: string;
  /** The dump run of `plan` with its temp dir (default `dir`). */
  dumpRun(plan: { tags: string[] }, tmpDir?: string): DumpRun;
  /** restoreRequest() from this engine, state under `dir`. */
  restoreRequest(plan: object, changes?: Partial<RestoreDatabaseRequest>): RestoreDatabaseRequest;
}

/**
 * The setup of a dump test: the database server `start` makes (when it has one), a restic
 * repository, the engine for it and a temp dir, released in reverse order also when a later
 * step fails.
 */
export async function dumpSetup(prefix: string): Promise<DumpSetup>;
export async function dumpSetup<S extends AsyncDisposable>(
  prefix: string,
  start: () => Promise<S>,
): Promise<DumpSetup & { server: S }>;
export async function dumpSetup<S extends AsyncDisposable>(
  prefix: string,
  start?: () => Promise<S>,
): Promise<DumpSetup & { server?: S }> {
  await using stack = new AsyncDisposableStack();
  const server = start ? stack.use(await start()) : undefined;
  const repo = stack.use(await createTestRepo());
  const dir = stack.use(await tempDir(prefix)).path;
  const engine = await engineFor(repo);
  const owned = stack.move();
  return {
    ...(server ? { server } : {}),
    repo,
    engine,
    dir,
    dumpRun: (plan, tmpDir = dir) => dumpRun(plan, tmpDir),
    restoreRequest: (plan, changes = {}) => restoreRequest(plan, engine, dir, changes),
    [Symbol.asyncDispose]: () => owned.disposeAsync(),
  };
}

/** A plan "p" with these `[[databases]]` entries, parsed by the fragment. */
export function planWith(
  databases: object[],
  tags: string[] = [],
): { tags: string[]; databases: unknown } {
  return { tags, databases: databasesSchema.parse(databases) };
}

/**
 * The restore the tests ask for: database "app" of plan "p" from the newest snapshot into the
 * database app_restored, nothing overwritten, state under `dir`; `changes` says what differs.
 */
export function restoreRequest(
  plan: object,
  engine: RestoreDatabaseRequest["engine"],
  dir: string,
  changes: Partial<RestoreDatabaseRequest> = {},
): RestoreDatabaseRequest {
  return {
    planName: "p",
    plan,
    name: "app",
    engine,
    snapshot: "latest",
    to: { database: "app_restored" },
    overwrite: false,
    stateDir: join(dir, "state"),
    signal: new AbortController().signal,
    ...changes,
  };
}

export function dumpRun(plan: { tags: string[] }, tmpDir: string): DumpRun {
  return { planName: "p", plan, host: "test-host", tmpDir };
}

/** A DumpContext that records what the run would see. */
export function recorder(signal = new AbortController().signal): DumpContext & {
  summaries: DatabaseSummaryEvent[];
  failures: { repository: string; message: string }[];
  events: (RunEvent | DatabaseSummaryEvent)[];
} {
  const summaries: DatabaseSummaryEvent[] = [];
  const failures: { repository: string; message: string }[] = [];
  const events: (RunEvent | DatabaseSummaryEvent)[] = [];
  return {
    signal,
    summaries,
    failures,
    events,
    emit: (e) => {
      events.push(e);
      if (e.type === "database_summary") summaries.push(e);
    },
    onFailure: (repository, error) =>
      failures.push({
        repository,
        message: error instanceof Error ? error.message : String(error),
      }),
  };
}

/**
 * Watches every process's argument list while `fn` runs: which programs ran (by argv[0]
 * base name), and whether any argv ever held `secret`.
 */
export async function watchArgv<T>(
  secret: string,
  fn: () => Promise<T>,
): Promise<{ value: T; programs: Set<string>; leaks: string[]; argvs: string[][] }> {
  const programs = new Set<string>();
  const leaks: string[] = [];
  const argvs: string[][] = [];
  let running = true;
  const poll = (async () => {
    while (running) {
      for (const pid of await readdir("/proc").catch(() => [])) {
        if (!/^\d+$/.test(pid)) continue;
        const raw = await readFile(`/proc/${pid}/cmdline`).catch(() => undefined);
        if (!raw || raw.length === 0) continue;
        const argv = raw.toString("utf8").split("\0").filter(Boolean);
        const exe = await readlink(`/proc/${pid}/exe`).catch(() => "");
        const name = (argv[0] ?? "").split("/").at(-1) ?? "";
        if (!programs.has(name)) argvs.push(argv);
        programs.add(name);
        if (exe) programs.add(exe.split("/").at(-1) ?? "");
        if (raw.includes(secret)) leaks.push(argv.join(" "));
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  try {
    const value = await fn();
    return { value, programs, leaks, argvs };
  } finally {
    running = false;
    await poll;
  }
}
