import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { build } from "esbuild";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LockedError } from "../../errors.js";
import { run } from "../../exec/index.js";
import { localHost } from "./ssh.js";
import { acquireTargetLock } from "./target-lock.js";

describe("the lock on a replication target", () => {
  it("admits one holder at a time and is free again once released", async () => {
    const dir = await mkdtemp(join(tmpdir(), "snapback-test-tlock-"));
    try {
      const file = join(dir, ".snapback.lock");
      const first = await acquireTargetLock(localHost, file, "repository r");
      const second = await acquireTargetLock(localHost, file, "repository r").catch(
        (e: unknown) => e,
      );
      expect(second).toBeInstanceOf(LockedError);
      expect((second as Error).message).toContain("in use by another snapback run");
      await first[Symbol.asyncDispose]();
      const third = await acquireTargetLock(localHost, file, "repository r");
      await third[Symbol.asyncDispose]();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("is freed when its holder dies without releasing it (SIGKILL)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "snapback-test-tlock-"));
    try {
      const file = join(dir, ".snapback.lock");
      // A separate process holds the lock, the way a snapback run would, and is SIGKILLed.
      const entry = join(dir, "holder.ts");
      await writeFile(
        entry,
        `import { acquireTargetLock } from ${JSON.stringify(join(import.meta.dirname, "target-lock.ts"))};
         import { localHost } from ${JSON.stringify(join(import.meta.dirname, "ssh.ts"))};
         await acquireTargetLock(localHost, ${JSON.stringify(file)}, "r");
         console.log("held");
         setInterval(() => {}, 1000);`,
      );
      await build({
        entryPoints: [entry],
        bundle: true,
        platform: "node",
        format: "esm",
        outfile: join(dir, "holder.mjs"),
        logLevel: "silent",
      });
      let holderPid = 0;
      let held = false;
      const holder = run(process.execPath, [join(dir, "holder.mjs")], {
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
      // The flock process saw its stdin close and exited: the lock is free.
      let again: AsyncDisposable | undefined;
      for (let i = 0; i < 50 && !again; i++) {
        again = await acquireTargetLock(localHost, file, "r").catch(() => undefined);
        if (!again) await new Promise((r) => setTimeout(r, 100));
      }
      expect(again).toBeDefined();
      await again?.[Symbol.asyncDispose]();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
