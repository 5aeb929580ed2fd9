import { randomBytes } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { Journal } from "../core/journal.js";
import { newRunId } from "../core/runid.js";

/** A private temp dir with a journal of its own. */
export interface JournaledDir extends AsyncDisposable {
  path: string;
}

/**
 * Creates `<parent>/<prefix><random>` (mode 0700) for a command that runs outside a backup
 * run (restore). Its journal entry is written before it exists, so after a SIGKILL the next
 * run or `snapback cleanup` removes it like a run's own temp dir.
 */
export async function journaledTempDir(
  stateDir: string,
  plan: string,
  parent: string,
  prefix: string,
): Promise<JournaledDir> {
  const path = join(parent, `${prefix}${randomBytes(6).toString("hex")}`);
  const entry = { provider: "fs", type: "dir", id: path };
  const journal = await Journal.create(stateDir, newRunId(), plan);
  const dispose = async (): Promise<void> => {
    await rm(path, { recursive: true, force: true });
    await journal.gone(entry);
    await journal.remove();
  };
  try {
    await journal.add(entry);
    await mkdir(parent, { recursive: true, mode: 0o700 });
    await mkdir(path, { mode: 0o700 });
  } catch (e) {
    await dispose();
    throw e;
  }
  return { path, [Symbol.asyncDispose]: dispose };
}
