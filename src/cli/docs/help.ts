import { GLOBAL_OPTIONS } from "../args.js";
import { optionUsage, type Command, type OptionDef } from "../command.js";

export { VERSION } from "../version.js";

/** Environment variables snapback reads, for the top-level help and the man page. */
export const ENVIRONMENT: readonly { name: string; description: string }[] = [
  {
    name: "SNAPBACK_CONFIG",
    description: "the config file when --config is not given (default /etc/snapback/snapback.toml)",
  },
  {
    name: "SNAPBACK_STATE_DIR",
    description: "overrides the config's state_dir (journals, locks, history, caches)",
  },
  {
    name: "SNAPBACK_LOG_LEVEL",
    description: "quiet, normal or verbose; --quiet and --verbose win over it",
  },
];

export const EXIT_CODES: readonly { code: number; meaning: string }[] = [
  { code: 0, meaning: "success" },
  {
    code: 1,
    meaning: "failure, including a repository that cannot be reached (transient: retry later)",
  },
  {
    code: 2,
    meaning:
      "bad usage, invalid config, wrong password, or a missing repository without init: fix it (nothing was touched)",
  },
  { code: 3, meaning: "finished, but some files could not be read (the backup is incomplete)" },
  { code: 4, meaning: "another run holds the plan's lock" },
  { code: 130, meaning: "interrupted (cleanup done)" },
];

export function visible(commands: readonly Command[]): Command[] {
  return commands.filter((c) => !c.hidden);
}

const COLUMN = 22;

function row(left: string, right: string): string {
  return left.length < COLUMN - 2
    ? `  ${left.padEnd(COLUMN - 2)}${right}`
    : `  ${left}\n  ${" ".repeat(COLUMN - 2)}${right}`;
}

function optionLeft(name: string, o: OptionDef): string {
  return `${o.short ? `-${o.short}, ` : ""}${optionUsage(name, o)}${o.multiple ? "..." : ""}`;
}

/** `snapback` / `snapback help`: every command with its summary. */
export function mainHelp(commands: readonly Command[]): string {
  return [
    "usage: snapback [--config FILE] [--json] [--verbose|--quiet] COMMAND [ARGS]",
    "       snapback help COMMAND | snapback COMMAND --help | snapback --version",
    "",
    "commands:",
    ...visible(commands).map((c) => row(c.name, c.summary)),
    "",
    "global options:",
    ...Object.entries(GLOBAL_OPTIONS).map(([n, o]) => row(optionLeft(n, o), o.description)),
    row("-V, --version", "print the version and exit"),
    "",
    "environment:",
    ...ENVIRONMENT.map((e) => row(e.name, e.description)),
    "",
    `exit codes: ${EXIT_CODES.map((e) => `${e.code} ${e.meaning.split(/[,(:]/)[0]?.trim() ?? ""}`).join(", ")}`,
  ].join("\n");
}

/** `snapback COMMAND --help` and `snapback help COMMAND`. */
export function commandHelp(c: Command): string {
  const lines = [`snapback ${c.name} — ${c.summary}`, "", "usage:"];
  for (const s of c.synopsis) lines.push(`  snapback ${s}`);
  for (const p of c.description) lines.push("", p);
  if (c.positionals.length > 0) {
    lines.push("", "arguments:");
    for (const p of c.positionals)
      lines.push(row(`${p.name}${p.variadic ? "..." : ""}`, p.description));
  }
  const options = Object.entries(c.options);
  if (options.length > 0) {
    lines.push("", "options:");
    for (const [n, o] of options) lines.push(row(optionLeft(n, o), o.description));
  }
  lines.push("", "global options: --config FILE, --json, -v/--verbose, -q/--quiet, -h/--help");
  if (c.examples.length > 0) {
    lines.push("", "examples:");
    for (const e of c.examples) lines.push(`  ${e.command}`, `      ${e.description}`);
  }
  return lines.join("\n");
}
