import { writeFile } from "node:fs/promises";
import { build } from "esbuild";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LockedError, SnapbackError } from "../../errors.js";
import { run } from "../../exec/index.js";
import { tempDir } from "../../../test/fixtures/tempdir.js";
import { localHost, type Host } from "./ssh.js";
import { acquireTargetLock } from "./target-lock.js";

/** The ssh variant (a holder process on the target), run on this machine. */
const remoteHere: Host = { ...localHost, label: "remote-here", remote: true };

/** Waits (up to 10 s) until the lock is free: flock's own wait, a handshake, not a timer. */
async function freeWithin10s(file: string): Promise<boolean> {
  const r = await run("flock", ["-w", "10", "-E", "75", file, "true"], { reject: false });
  return r.exitCode === 0;
}

/** What a second taker gets while the lock is held: the error, or the lock it should not get. */
const takeAgain = (host: Host, file: string): Promise<unknown> =>
  acquireTargetLock(host, file, "repository r").catch((e: unknown) => e);

describe("the lock on a replication target", () => {
  it("admits one holder at a time and is free again once released", async () => {
    await using dir = await tempDir("tlock");
    const file = join(dir.path, ".snapback.lock");
    const first = await acquireTargetLock(localHost, file, "repository r");
    const second = await takeAgain(localHost, file);
    expect(second).toBeInstanceOf(LockedError);
    expect((second as Error).message).toContain("in use by another snapback run");
    // It is an flock on the file: any flock user (a run over ssh, an older snapback) sees it.
    const probe = await run("flock", ["-n", "-E", "75", file, "true"], { reject: false });
    expect(probe.exitCode).toBe(75);
    await first[Symbol.asyncDispose]();
    expect((await run("flock", ["-n", "-E", "75", file, "true"], { reject: false })).exitCode).toBe(
      0,
    );
    const third = await acquireTargetLock(localHost, file, "repository r");
    await third[Symbol.asyncDispose]();
  });

  it("a lock file that cannot be opened: a clear error naming the target", async () => {
    await using dir = await tempDir("tlock");
    const file = join(dir.path, "unplugged", ".snapback.lock");
    const e = await acquireTargetLock(localHost, file, "repository usb").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SnapbackError);
    expect((e as Error).message).toMatch(/^cannot lock repository usb: ENOENT/);
  });

  it("over ssh (a holder process there): one at a time, free once released", async () => {
    await using dir = await tempDir("tlock");
    const file = join(dir.path, ".snapback.lock");
    const first = await acquireTargetLock(remoteHere, file, "repository r");
    const second = await takeAgain(remoteHere, file);
    expect(second).toBeInstanceOf(LockedError);
    expect((second as Error).message).toContain("(lock " + file + " on remote-here)");
    // The two kinds exclude each other: both are flocks on the same file.
    expect(await takeAgain(localHost, file)).toBeInstanceOf(LockedError);
    await first[Symbol.asyncDispose]();
    expect(await freeWithin10s(file)).toBe(true);
  });

  it("stays with this process: no process started while it is held inherits it", async () => {
    await using dir = await tempDir("tlock");
    const file = join(dir.path, ".snapback.lock");
    await using _lock = await acquireTargetLock(localHost, file, "repository r");
    // A child that outlived a SIGKILLed run must not keep the target locked.
    const fds = await run("sh", [
      "-c",
      'for f in /proc/$$/fd/*; do echo "$f $(readlink "$f")"; done',
    ]);
    const targets = fds.stdout.split("\n").map((l) => l.split(" ").slice(1).join(" "));
    // The listing worked (its stdout is there: a pipe or, as node makes them, a socket) …
    expect(fds.stdout).toMatch(/\/fd\/1 (pipe|socket):/);
    // … and names no open lock file.
    expect(targets).not.toContain(file);
  });

  it.each(["this machine", "ssh"])(
    "is freed when its holder dies without releasing it (SIGKILL, %s)",
    async (kind) => {
      await using dir = await tempDir("tlock");
      const file = join(dir.path, ".snapback.lock");
      // A separate process holds the lock, the way a snapback run would, and is SIGKILLed.
      const entry = join(dir.path, "holder.ts");
      await writeFile(
        entry,
        `import { acquireTargetLock } from ${JSON.stringify(join(import.meta.dirname, "target-lock.ts"))};
       import { localHost } from ${JSON.stringify(join(import.meta.dirname, "ssh.ts"))};
       const host = ${kind === "ssh" ? "{ ...localHost, remote: true }" : "localHost"};
       await acquireTargetLock(host, ${JSON.stringify(file)}, "r");
       console.log("held");
       setInterval(() => {}, 1000);`,
      );
      await build({
        entryPoints: [entry],
        bundle: true,
        platform: "node",
        format: "esm",
        outfile: join(dir.path, "holder.mjs"),
        logLevel: "silent",
      });
      let holderPid = 0;
      let held = false;
      const holder = run(process.execPath, [join(dir.path, "holder.mjs")], {
        reject: false,
        onSpawn: (c) => (holderPid = c.pid ?? 0),
        onStdoutLine: (l) => {
          if (l !== "held") return;
          held = true;
          process.kill(-holderPid, "SIGKILL");
        },
      });
      await holder;
      expect(held).toBe(true);
      if (kind === "this machine") {
        // The holder is gone, and with it the open file the lock was on: free at once.
        const again = await acquireTargetLock(localHost, file, "r");
        await again[Symbol.asyncDispose]();
      } else {
        // The holder process there sees its stdin close and exits, and the lock with it.
        expect(await freeWithin10s(file)).toBe(true);
      }
    },
  );
});
