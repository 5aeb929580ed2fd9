import { readFile, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../test/fixtures/tempdir.js";
import { run } from "../exec/index.js";
import { findOrphanJournals, Journal } from "./journal.js";

const entry = (id: string): { provider: string; type: string; id: string } => ({
  provider: "btrfs",
  type: "snapshot",
  id,
});

/** The journal's file as the next run reads it, owned by a process that is gone. */
async function orphaned(journal: Journal): Promise<void> {
  const lines = (await readFile(journal.path, "utf8")).split("\n");
  const owner = JSON.parse(lines[0] ?? "") as { owner: Record<string, unknown> };
  owner.owner.startTime = "0"; // no live process started at boot tick 0
  lines[0] = JSON.stringify(owner);
  await writeFile(journal.path, lines.join("\n"));
}

describe("the run's journal", () => {
  it("tells the next run exactly what is left: added, neither gone nor kept", async () => {
    await using dir = await tempDir("journal");
    const journal = await Journal.create(dir.path, "20260101T000000Z-abcd", "p");
    await journal.add(entry("a"), entry("b"), entry("c"));
    await journal.gone(entry("a")); // removed again
    await journal.done(entry("b")); // kept: no run may reclaim it
    await orphaned(journal);
    const [orphan, ...more] = await findOrphanJournals(dir.path);
    expect(more).toEqual([]);
    expect(orphan?.owner.plan).toBe("p");
    expect(orphan?.pending).toEqual([entry("c")]);
    await journal.remove();
    expect(await findOrphanJournals(dir.path)).toEqual([]);
  });

  it("flushes to disk only what a later run must not miss: additions and kept objects", async () => {
    await using dir = await tempDir("journal");
    // A separate node process under strace: its fdatasync/fsync calls are the flushes.
    const script = join(dir.path, "journal-run.ts");
    await writeFile(
      script,
      `import { Journal } from ${JSON.stringify(join(import.meta.dirname, "journal.ts"))};
       const j = await Journal.create(${JSON.stringify(dir.path)}, "20260101T000000Z-abcd", "p");
       await j.add({ provider: "btrfs", type: "snapshot", id: "a" }, { provider: "fs", type: "dir", id: "b" });
       await j.gone({ provider: "btrfs", type: "snapshot", id: "a" });
       await j.done({ provider: "fs", type: "dir", id: "b" });
       await j.remove();`,
    );
    const bundle = join(dir.path, "journal-run.mjs");
    await build({
      entryPoints: [script],
      bundle: true,
      platform: "node",
      format: "esm",
      outfile: bundle,
      logLevel: "silent",
    });
    const out = join(dir.path, "strace.out");
    await run("strace", [
      ...["-f", "-qq", "-s", "40", "-e", "trace=write,pwrite64,fsync,fdatasync"],
      ...["-o", out, "node", bundle],
    ]);
    // The journal's writes and the flushes, in order (other writes are node's own).
    const steps = (await readFile(out, "utf8"))
      .split("\n")
      .map((l) => (/sync\(/.test(l) ? "flush" : /write\(\d+, "\{\\"(\w+)\\"/.exec(l)?.[1]))
      .filter((x) => x !== undefined);
    // Both additions in one write, flushed; the removal not; the kept object flushed.
    expect(steps).toEqual(["owner", "add", "flush", "done", "done", "flush"]);
  });

  it("a journal without its owner line is an orphan only once nobody will write it (10 s)", async () => {
    await using dir = await tempDir("journal");
    const journal = await Journal.create(dir.path, "20260101T000000Z-abcd", "p");
    await journal.add(entry("a"));
    await writeFile(journal.path, `${JSON.stringify({ add: entry("a") })}\n`);
    // Its run may be between creating the file and writing the owner: not touched.
    expect(await findOrphanJournals(dir.path)).toEqual([]);
    const old = new Date(Date.now() - 11_000);
    await utimes(journal.path, old, old);
    const [orphan] = await findOrphanJournals(dir.path);
    expect(orphan?.pending).toEqual([entry("a")]);
  });
});
