import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { CommandIO } from "../src/cli/command.js";
import { restoreCommand } from "../src/cli/commands/restore.js";

/** Thrown by the stand-in config loader: the command accepted its arguments. */
class ReachedConfig extends Error {}

const io: CommandIO = {
  print: () => undefined,
  printJson: () => undefined,
  load: () => Promise.reject(new ReachedConfig()),
  stdoutIsTTY: false,
  stderrIsTTY: false,
};

describe("README: the database restore examples work as written", () => {
  it("every `snapback restore … --database` line in README.md is accepted by restore", async () => {
    const readme = await readFile(join(import.meta.dirname, "../README.md"), "utf8");
    const examples = [...readme.matchAll(/snapback restore [^`\n]*--database[^`\n]*/g)]
      .map((m) => m[0].trim())
      // Synopses ("--database NAME", "(--to-database DB | …)") are not examples.
      .filter((line) => !/[A-Z]{3,}|\(|\|/.test(line));
    expect(examples.length).toBeGreaterThanOrEqual(2);
    for (const line of examples) {
      const argv = line.split(/\s+/).slice(2);
      await expect(restoreCommand.execute(argv, io), line).rejects.toBeInstanceOf(ReachedConfig);
    }
  });
});
