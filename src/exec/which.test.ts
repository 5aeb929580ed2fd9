import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { run, which } from "./index.js";

describe("which (in-process PATH lookup)", () => {
  const saved = process.env["PATH"];
  afterEach(() => {
    process.env["PATH"] = saved;
  });

  it("finds what `command -v` finds, skipping files that are not executable", async () => {
    const dir = await mkdtemp(join(tmpdir(), "snapback-test-which-"));
    try {
      await writeFile(join(dir, "tool"), "#!/bin/sh\n");
      const shell = await run("sh", ["-c", 'command -v "$1"', "sh", "restic"]);
      expect(await which("restic")).toBe(shell.stdout.trim());
      process.env["PATH"] = `${dir}:${saved ?? ""}`;
      expect(await which("tool")).toBeUndefined();
      await chmod(join(dir, "tool"), 0o755);
      expect(await which("tool")).toBe(join(dir, "tool"));
      expect(await which("no-such-program-here")).toBeUndefined();
      expect(await which(join(dir, "tool"))).toBe(join(dir, "tool"));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
