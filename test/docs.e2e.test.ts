import { chmod, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { visible } from "../src/cli/docs/help.js";
import { commands } from "../src/cli/commands/index.js";
import { run } from "../src/exec/index.js";
import { CLI } from "./fixtures/cli.js";
import { tempDir, type TempDir } from "./fixtures/tempdir.js";

// What `make build` writes and `make install` installs.
const DIST = resolve(import.meta.dirname, "../dist");
const MAN = join(DIST, "man/snapback.1");
const BASH = join(DIST, "completions/snapback.bash");
const ZSH = join(DIST, "completions/_snapback");
const FISH = join(DIST, "completions/snapback.fish");

/** A `snapback` on PATH (the built bundle) and a config with two plans and two repositories. */
async function completionWorld(): Promise<TempDir & { config: string; env: NodeJS.ProcessEnv }> {
  const dir = await tempDir("completion");
  await writeFile(join(dir.path, "snapback"), `#!/bin/sh\nexec ${process.execPath} ${CLI} "$@"\n`);
  await chmod(join(dir.path, "snapback"), 0o755);
  const config = join(dir.path, "snapback.toml");
  await writeConfig(config, ["alpha", "beta"]);
  return { ...dir, config, env: { PATH: `${dir.path}:${process.env["PATH"] ?? ""}` } };
}

async function writeConfig(path: string, plans: string[]): Promise<void> {
  const lines = [
    `state_dir = "${join(path, "..", "state")}"`,
    '[repositories.near]\nengine = "restic"\nurl = "/srv/near"\npassword_file = "/etc/pw"',
    '[repositories.far]\nengine = "restic"\nurl = "/srv/far"\npassword_file = "/etc/pw"',
  ];
  for (const p of plans)
    lines.push(
      `[plans.${p}]\nsources = ["/srv"]\nrepositories = [${p === "alpha" ? '"near", "far"' : '"far"'}]`,
    );
  await writeFile(path, `${lines.join("\n")}\n`, { mode: 0o600 });
}

/** What bash's completion function offers for a command line (the last word is completed). */
async function bashComplete(env: NodeJS.ProcessEnv, words: string[]): Promise<string[]> {
  const script = [
    `source ${BASH}`,
    `COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")})`,
    `COMP_CWORD=${words.length - 1}`,
    "_snapback",
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join("\n");
  const r = await run("bash", ["--norc", "-c", script], { env });
  return r.stdout.split("\n").filter(Boolean).sort();
}

describe("man page", () => {
  test("groff and man render snapback(1) without a warning", async () => {
    const groff = await run("groff", ["-man", "-Tutf8", "-ww", "-z", MAN], { reject: false });
    expect(groff.stderr).toBe("");
    expect(groff.exitCode).toBe(0);
    const man = await run("man", ["--warnings", "-l", MAN], {
      env: { MANWIDTH: "100", MAN_KEEP_FORMATTING: "0", PAGER: "cat" },
      reject: false,
    });
    expect(man.stderr).toBe("");
    expect(man.exitCode).toBe(0);
    // Overstrike bold (c BACKSPACE c) as col -b would remove it.
    const text = man.stdout
      .split("\b")
      .map((part, i) => (i === 0 ? part : part.slice(1)))
      .join("");
    for (const section of ["NAME", "SYNOPSIS", "COMMANDS", "ENVIRONMENT", "EXIT STATUS"])
      expect(text).toMatch(new RegExp(`^${section}$`, "m"));
    expect(text).toContain("SNAPBACK_LOG_LEVEL");
  });

  test("documents every command with its options and examples, from the same definitions as --help", async () => {
    const page = await readFile(MAN, "utf8");
    for (const c of visible(commands)) {
      expect(page).toContain(`.SS ${c.name}\n`);
      for (const n of Object.keys(c.options))
        expect(page).toContain(`\\fB${`--${n}`.replace(/-/g, "\\-")}\\fR`);
      for (const e of c.examples) expect(page).toContain(e.command.replace(/-/g, "\\-"));
    }
    expect(page).not.toContain("__complete");
  });
});

describe("shell completions", () => {
  test("bash: commands, options, and plan and repository names read from the config when TAB is pressed", async () => {
    await using w = await completionWorld();
    const cfg = ["--config", w.config];
    expect(await bashComplete(w.env, ["snapback", "re"])).toEqual(["restic", "restore"]);
    expect(await bashComplete(w.env, ["snapback", "backup", "--d"])).toEqual(["--dry-run"]);
    expect(await bashComplete(w.env, ["snapback", ...cfg, "backup", ""])).toEqual([
      "alpha",
      "beta",
    ]);
    expect(await bashComplete(w.env, ["snapback", ...cfg, "stats", "b"])).toEqual(["beta"]);
    expect(await bashComplete(w.env, ["snapback", "config", ""])).toEqual(["show", "validate"]);
    expect(await bashComplete(w.env, ["snapback", "help", "fo"])).toEqual(["forget"]);
    // --repository offers the repositories of the plan already on the line.
    expect(
      await bashComplete(w.env, ["snapback", ...cfg, "ls", "alpha", "--repository", ""]),
    ).toEqual(["far", "near"]);
    expect(
      await bashComplete(w.env, ["snapback", ...cfg, "ls", "beta", "--repository", ""]),
    ).toEqual(["far"]);
    // An option's value is not a positional: after `--wait 5m` plans are offered again.
    expect(await bashComplete(w.env, ["snapback", ...cfg, "backup", "--wait", "5m", "a"])).toEqual([
      "alpha",
    ]);
    // Read at completion time: a plan added to the config is offered at once.
    await writeConfig(w.config, ["alpha", "beta", "gamma"]);
    expect(await bashComplete(w.env, ["snapback", ...cfg, "backup", ""])).toEqual([
      "alpha",
      "beta",
      "gamma",
    ]);
    // A config that cannot be read completes nothing and prints nothing.
    expect(
      await bashComplete(w.env, ["snapback", "--config", "/nonexistent", "backup", ""]),
    ).toEqual([]);
  });

  test("zsh: compinit loads _snapback, which completes commands, options and names from the config", async () => {
    await using w = await completionWorld();
    const zsh = await run("zsh", ["-n", ZSH], { reject: false });
    expect(zsh.stderr).toBe("");
    expect(zsh.exitCode).toBe(0);
    // The set of candidates: _arguments may hand the same match to compadd more than once.
    const complete = async (line: string): Promise<string[]> => [...new Set(await runZsh(line))];
    const runZsh = async (line: string): Promise<string[]> =>
      (
        await run("zsh", ["-f", join(import.meta.dirname, "fixtures/zsh-complete.zsh")], {
          env: {
            LINE: line,
            COMPDIR: join(DIST, "completions"),
            BINDIR: w.path,
            ZCOMPDUMP: join(w.path, "zcompdump"),
          },
        })
      ).stdout
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean)
        .sort();
    expect(await complete("snapback sta")).toEqual(["stats", "status"]);
    expect(await complete("snapback prune --d")).toEqual(["--dry-run"]);
    expect(await complete("snapback config ")).toEqual(["show", "validate"]);
    expect(await complete(`snapback --config ${w.config} backup `)).toEqual(["alpha", "beta"]);
    expect(await complete(`snapback --config ${w.config} ls alpha --repository `)).toEqual([
      "far",
      "near",
    ]);
  });

  test("fish parses its script and completes commands, options and plan names", async () => {
    await using w = await completionWorld();
    const fish = await run("fish", ["--no-execute", FISH], { reject: false });
    expect(fish.stderr).toBe("");
    expect(fish.exitCode).toBe(0);
    const complete = async (line: string): Promise<string[]> =>
      (
        await run(
          "fish",
          ["--no-config", "-c", `source ${FISH}; complete -C ${JSON.stringify(line)}`],
          {
            env: w.env,
          },
        )
      ).stdout
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split("\t")[0] ?? "")
        .sort();
    expect(await complete("snapback sta")).toEqual(["stats", "status"]);
    expect(await complete("snapback prune --dr")).toEqual(["--dry-run"]);
    expect(await complete(`snapback --config ${w.config} diff `)).toEqual(["alpha", "beta"]);
  });
});
