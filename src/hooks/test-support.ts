import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as z from "zod";
import { run } from "../exec/index.js";
import { hookSchema, type HookConfig } from "../config/hooks.js";

/** A hook as the config loader would produce it (defaults applied). */
export function hook(input: z.input<typeof hookSchema>): HookConfig {
  return hookSchema.parse(input);
}

export interface TempDir extends AsyncDisposable {
  path: string;
  file(name: string): string;
  /** Lines of a file the hooks appended to; [] when no hook wrote it. */
  lines(name: string): Promise<string[]>;
}

export async function tempDir(): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), "snapback-hooks-test-"));
  const file = (name: string): string => join(path, name);
  return {
    path,
    file,
    async lines(name) {
      const text = await readFile(file(name), "utf8").catch(() => "");
      return text.split("\n").filter((l) => l !== "");
    },
    async [Symbol.asyncDispose]() {
      await rm(path, { recursive: true, force: true });
    },
  };
}

/** A string no other process on the machine has in its command line. */
export function uniqueMarker(): string {
  return `snapback-hook-marker-${randomBytes(6).toString("hex")}`;
}

/**
 * A `sleep` whose command line carries `marker` (GNU sleep refuses extra arguments): a
 * symlink named after the marker, so `pgrep -f marker` finds exactly the sleeps a hook started.
 */
export async function markedSleep(dir: string, marker: string): Promise<string> {
  const sleep = (await run("sh", ["-c", "command -v sleep"])).stdout.trim();
  const path = join(dir, marker);
  await symlink(sleep, path);
  return path;
}

/** Pids of live processes whose command line contains `marker`. */
export async function processesWith(marker: string): Promise<string[]> {
  const r = await run("pgrep", ["-f", marker], { reject: false });
  return r.stdout.split("\n").filter((l) => l.trim() !== "");
}

/** Kills whatever a failed test left running with `marker` in its command line. */
export async function killAll(marker: string): Promise<void> {
  await run("pkill", ["-KILL", "-f", marker], { reject: false });
}
