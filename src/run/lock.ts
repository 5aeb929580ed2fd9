import { mkdir, open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { LockedError } from "../errors.js";
import { isAlive, selfIdentity, type ProcessIdentity } from "../util/proc.js";

/**
 * A lock file created with O_EXCL holding the owner's pid and start time. A lock whose owner
 * is gone (SIGKILL, power loss) is stale and taken over with a note.
 */
export class FileLock implements AsyncDisposable {
  private constructor(readonly path: string) {}

  static async acquire(
    dir: string,
    name: string,
    what: string,
    onStale?: (owner: LockOwner) => void,
  ): Promise<FileLock> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, `${name}.lock`);
    const me: LockOwner = { ...selfIdentity(), since: new Date().toISOString() };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await open(path, "wx", 0o600);
        await fh.writeFile(JSON.stringify(me));
        await fh.sync();
        await fh.close();
        return new FileLock(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      const owner = await readOwner(path);
      if (owner && isAlive(owner)) {
        throw new LockedError(
          `${what} is locked by another snapback run (pid ${owner.pid}, since ${owner.since})`,
          `wait for it to finish, or check with: snapback status`,
        );
      }
      if (owner) onStale?.(owner);
      await rm(path, { force: true });
    }
    throw new LockedError(`${what}: could not take the lock ${path}`);
  }

  async release(): Promise<void> {
    await rm(this.path, { force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}

export interface LockOwner extends ProcessIdentity {
  since: string;
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as LockOwner;
  } catch {
    // Half-written by a process killed between create and write: treat as stale.
    return { pid: 0, startTime: "x", since: "unknown" };
  }
}

export function lockDir(stateDir: string): string {
  return join(stateDir, "locks");
}
