import { ProcessError, run, type RunResult } from "../../exec/index.js";
import { SnapbackError } from "../../errors.js";
import { PROP_RUN, type Command } from "./commands.js";

/** Low-level `zfs` queries and the one guarded destroy every removal goes through. */

export function exec(cmd: Command): Promise<RunResult> {
  return run(cmd.file, cmd.args);
}

export function zfs(args: string[]): Promise<RunResult> {
  return run("zfs", args);
}

export function isMissingError(e: unknown): boolean {
  return (
    e instanceof ProcessError &&
    /does not exist|no such pool|dataset does not exist/i.test(e.stderr)
  );
}

/** `-H` output split into rows of tab-separated fields. */
export function rows(stdout: string): string[][] {
  return stdout
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => l.split("\t"));
}

/** Every filesystem and volume at and below `roots`. */
export async function listTree(roots: readonly string[]): Promise<string[]> {
  if (roots.length === 0) return [];
  const r = await zfs(["list", "-H", "-o", "name", "-t", "filesystem,volume", "-r", ...roots]);
  return rows(r.stdout).map((f) => f[0] ?? "");
}

/** Which of `datasets@snap` already exist. */
export async function existingSnapshots(
  datasets: readonly string[],
  snap: string,
): Promise<string[]> {
  if (datasets.length === 0) return [];
  const r = await zfs(["list", "-H", "-o", "name", "-t", "snapshot", "-d", "1", ...datasets]);
  const want = new Set(datasets.map((d) => `${d}@${snap}`));
  return rows(r.stdout)
    .map((f) => f[0] ?? "")
    .filter((n) => want.has(n));
}

export type Ownership = { exists: false } | { exists: true; run: string | undefined };

/**
 * Whether `name` exists and which run created it. Only a locally set property counts:
 * an inherited value would mark a user's dataset as ours.
 */
export async function ownership(name: string): Promise<Ownership> {
  const r = await run("zfs", ["get", "-H", "-o", "value,source", PROP_RUN, name], {
    reject: false,
  });
  if (r.exitCode !== 0) {
    if (/does not exist/i.test(r.stderr)) return { exists: false };
    throw new ProcessError(r);
  }
  const [value, source] = rows(r.stdout)[0] ?? [];
  return { exists: true, run: value && value !== "-" && source === "local" ? value : undefined };
}

export type DestroyOutcome = "destroyed" | "absent" | "foreign";

/**
 * Destroys a snapshot or clone only if snapback made it (and, given `runId`, this run).
 * A snapshot or dataset that merely has the same name is never touched.
 */
export async function destroyIfOurs(name: string, runId?: string): Promise<DestroyOutcome> {
  const owner = await ownership(name);
  if (!owner.exists) return "absent";
  if (owner.run === undefined || (runId !== undefined && owner.run !== runId)) return "foreign";
  try {
    await zfs(["destroy", name]);
  } catch (e) {
    if (isMissingError(e)) return "absent";
    throw new SnapbackError(
      `could not destroy ZFS ${name.includes("@") ? "snapshot" : "clone"} ${name}: ${tail(e)}`,
      {
        cause: e,
        hint: "it is recorded in the run journal; `snapback cleanup` retries",
      },
    );
  }
  return "destroyed";
}

export function tail(e: unknown): string {
  if (e instanceof ProcessError) return e.stderrTail(3).replace(/\n/g, "; ") || e.message;
  return e instanceof Error ? e.message : String(e);
}
