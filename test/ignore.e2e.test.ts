import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { describe, expect, test } from "vitest";
import { run } from "../src/exec/index.js";
import { createWorld, leftovers } from "./fixtures/cli.js";

async function put(root: string, rel: string, content = "x\n"): Promise<void> {
  await mkdir(dirname(join(root, rel)), { recursive: true });
  await writeFile(join(root, rel), content);
}

describe("ignore files in a run", () => {
  test("nested .snapbackignore files with negation, read from the snapshot; plan excludes win", async () => {
    await using w = await createWorld();
    const d = w.data;
    await put(d, ".snapbackignore", "*.log\n/build/\n!keep.log\n");
    await put(d, "a.log");
    await put(d, "keep.log");
    await put(d, "build/out.bin");
    await put(d, "src/build/inner.txt");
    await put(d, "src/main.c");
    await put(d, "src/.snapbackignore", "# generated files\n*.o\n");
    await put(d, "src/main.o");
    await put(d, "src/lib/util.o");
    await put(d, "secret/key.pem");
    await w.writeConfig(
      w.basicConfig([d], 'ignore_file = ".snapbackignore"\nexclude = ["/**/secret"]'),
    );

    const r = await w.cli(["backup"]);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.exitCode).toBe(0);
    const files = (await w.repo.restic(["ls", "latest"]))
      .split("\n")
      .filter((l) => l.startsWith(d))
      .map((l) => l.slice(d.length))
      .filter(Boolean)
      .sort();
    expect(files).toEqual(
      [
        "/.snapbackignore",
        "/keep.log",
        "/src",
        "/src/.snapbackignore",
        "/src/build",
        "/src/build/inner.txt",
        "/src/lib",
        "/src/main.c",
      ].sort(),
    );
    expect(await leftovers(w)).toEqual([]);
  });

  test("a broken ignore file fails the plan with its file and line, nothing left", async () => {
    await using w = await createWorld();
    await put(w.data, ".snapbackignore", "ok.txt\n[unterminated\n");
    await w.writeConfig(w.basicConfig([w.data], 'ignore_file = ".snapbackignore"'));
    const r = await w.cli(["backup"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/\.snapbackignore:2/);
    expect(await w.repo.snapshots()).toEqual([]);
    expect(await leftovers(w)).toEqual([]);
  });

  test("rules hold across nested subvolumes as in one tree, without a false warning", async () => {
    await using w = await createWorld();
    const d = w.data;
    await put(d, ".snapbackignore", "logs/\n*.tmp\n");
    await put(d, "logs", "a file named logs: kept (logs/ matches directories only)\n");
    await put(d, "bob/logs/b.txt");
    const alice = join(d, "alice");
    await run("btrfs", ["subvolume", "create", alice]);
    await put(alice, "logs", "a file in the nested subvolume: kept as well\n");
    await put(alice, "work/logs/a.txt");
    await put(alice, "notes.tmp");
    await put(alice, ".snapbackignore", "private/\n");
    await put(alice, "private/p.txt");
    await put(alice, "keep.txt");
    await w.writeConfig(w.basicConfig([d], 'ignore_file = ".snapbackignore"'));

    const r = await w.cli(["backup"]);
    expect(r.stderr).not.toMatch(/another filesystem/);
    expect(r.exitCode).toBe(0);
    const files = (await w.repo.restic(["ls", "latest"]))
      .split("\n")
      .filter((l) => l.startsWith(d))
      .map((l) => l.slice(d.length))
      .filter(Boolean)
      .sort();
    expect(files).toEqual(
      [
        "/.snapbackignore",
        "/logs",
        "/bob",
        "/alice",
        "/alice/.snapbackignore",
        "/alice/logs",
        "/alice/keep.txt",
        "/alice/work",
      ].sort(),
    );
    expect(await leftovers(w)).toEqual([]);
  });
});
