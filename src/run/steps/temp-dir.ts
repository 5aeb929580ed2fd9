import { mkdir, rm } from "node:fs/promises";
import type { RunState, RunStep } from "./types.js";
import type { Started } from "./start.js";

/** The run's private temp dir (the exclude file, the engine's TMPDIR, dumps), journaled first. */
export const tempDir: RunStep<RunState & Started, object> = {
  name: "temp dir",
  async run({ p, journal }, unwind) {
    const entry = { provider: "fs", type: "dir", id: p.tmpDir };
    await journal.add(entry);
    await mkdir(p.tmpDir, { recursive: true, mode: 0o700 });
    unwind.defer(`removing ${p.tmpDir}`, async () => {
      await rm(p.tmpDir, { recursive: true, force: true });
      await journal.gone(entry);
    });
    return {};
  },
};
