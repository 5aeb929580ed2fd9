import { describe, expect, test } from "vitest";
import { UsageError } from "../../errors.js";
import { GLOBAL_OPTIONS } from "../args.js";
import { main } from "../app.js";
import type { CommandIO } from "../command.js";
import { commands } from "../commands/index.js";
import { commandHelp, visible } from "./help.js";

const loads: string[] = [];

function capture(): { io: CommandIO; out: string[] } {
  const out: string[] = [];
  return {
    out,
    io: {
      print: (l) => out.push(l),
      printJson: (v) => out.push(JSON.stringify(v)),
      load: () => {
        loads.push("load");
        return Promise.reject(new UsageError("this test has no config"));
      },
      stdoutIsTTY: false,
      stderrIsTTY: false,
    },
  };
}

async function cli(argv: string[]): Promise<{ code: number; text: string }> {
  const { io, out } = capture();
  const code = await main(argv, io);
  return { code, text: out.join("\n") };
}

describe("command definitions", () => {
  test("every listed command documents itself: summary, examples, every option and argument", () => {
    const names = new Set<string>();
    for (const c of visible(commands)) {
      expect(names.has(c.name), `${c.name} defined twice`).toBe(false);
      names.add(c.name);
      expect(c.summary.length, c.name).toBeGreaterThan(10);
      expect(c.examples.length, `${c.name} has no example`).toBeGreaterThan(0);
      for (const e of c.examples) expect(e.command).toMatch(new RegExp(`\\b${c.name}\\b`));
      for (const [n, o] of Object.entries(c.options)) {
        expect(o.description.length, `${c.name} --${n}`).toBeGreaterThan(5);
        expect(GLOBAL_OPTIONS, `${c.name} --${n} shadows a global option`).not.toHaveProperty(n);
      }
      for (const p of c.positionals) expect(p.description.length).toBeGreaterThan(3);
    }
    for (const n of ["plans", "ls", "diff", "stats", "forget", "restic", "help"])
      expect(names).toContain(n);
  });

  test("COMMAND --help, COMMAND -h and help COMMAND print the same generated help, exit 0", async () => {
    loads.length = 0;
    for (const c of visible(commands)) {
      const a = await cli([c.name, "--help"]);
      const b = await cli(["help", c.name]);
      const h = await cli(["--json", c.name, "-h"]);
      expect(a.code).toBe(0);
      expect(b).toEqual(a);
      expect(h).toEqual(a);
      expect(a.text).toBe(commandHelp(c));
      expect(a.text).toContain(`usage:\n  snapback ${c.name}`);
      for (const n of Object.keys(c.options)) expect(a.text).toContain(`--${n}`);
      for (const e of c.examples) expect(a.text).toContain(e.command);
    }
    expect(loads).toEqual([]);
  });

  test("the help of a command with options shows them with their descriptions", async () => {
    const r = await cli(["help", "backup"]);
    expect(r.text).toMatch(/--wait DURATION +if the plan is already running/);
    expect(r.text).toContain("snapback backup [PLAN...] [--dry-run] [--wait DURATION]");
    expect(r.text).toContain("examples:\n  snapback backup\n");
  });

  test("help without a command lists every visible command and no hidden one", async () => {
    const r = await cli(["help"]);
    expect(r.code).toBe(0);
    for (const c of visible(commands)) expect(r.text).toMatch(new RegExp(`^  ${c.name} +`, "m"));
    expect(r.text).not.toContain("__complete");
    expect(r.text).toContain("SNAPBACK_STATE_DIR");
    expect((await cli(["--help"])).code).toBe(0);
    expect((await cli([])).code).toBe(2);
  });

  test("help of an unknown command is a usage error", async () => {
    expect((await cli(["help", "nonsense"])).code).toBe(2);
  });

  test("-V and --version print the version", async () => {
    for (const flag of ["-V", "--version"]) {
      const r = await cli([flag]);
      expect(r.code).toBe(0);
      expect(r.text).toMatch(/^snapback \d+\.\d+\.\d+$/);
    }
  });

  test("a --help after -- belongs to the wrapped program, not to snapback", async () => {
    // Not snapback's help: the command runs, so it reads the config (which this test lacks).
    loads.length = 0;
    const r = await cli(["restic", "p", "--", "backup", "--help"]);
    expect(r.text).not.toContain("snapback restic —");
    expect(loads).toEqual(["load"]);
    expect(r.code).toBe(2);
  });
});
