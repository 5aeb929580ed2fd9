import { configPath, loadConfig, type LoadedConfig } from "../config/load.js";
import { parseCommand, type GlobalOptions, type OptionSpec, type ParsedCommand } from "./args.js";

/**
 * What a shell completion offers for a value: plan or repository names (read from the config
 * when the user presses TAB), paths, or a fixed list of words.
 */
export type Completion = "plan" | "repository" | "file" | "dir" | "command" | readonly string[];

/** One option of a command, as parsed and as documented (help, man page, completions). */
export interface OptionDef {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  /** The value's placeholder in help texts ("DIR", "N"); string options only. */
  value?: string;
  description: string;
  complete?: Completion;
  /** Parsed but never documented: for snapback's own use (e.g. serve's `backup --run-id`). */
  hidden?: boolean;
}

export interface PositionalDef {
  /** Upper case, as shown in the synopsis: "PLAN", "ID". */
  name: string;
  description: string;
  optional?: boolean;
  variadic?: boolean;
  complete?: Completion;
}

export interface Example {
  command: string;
  description: string;
}

/**
 * A command as data plus its action. Everything a user reads about it (`--help`, `help
 * COMMAND`, the man page, the shell completions) is generated from these fields, so they cannot
 * drift from what the parser accepts.
 */
export interface CommandSpec<O extends Record<string, OptionDef>> {
  name: string;
  summary: string;
  /** Paragraphs after the synopsis. */
  description?: readonly string[];
  /** Synopsis lines after "snapback "; generated from positionals and options when absent. */
  synopsis?: readonly string[];
  positionals?: readonly PositionalDef[];
  options: O;
  examples: readonly Example[];
  /** Not listed anywhere (internal helpers such as `__complete`). */
  hidden?: boolean;
  /** Arguments after `--` are handed to `run` untouched in `passThrough`. */
  passThrough?: boolean;
  run(args: ParsedCommand<O>, io: CommandIO): Promise<number>;
}

/** A defined command with its types erased, as the registry, help and generators see it. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly description: readonly string[];
  readonly synopsis: readonly string[];
  readonly positionals: readonly PositionalDef[];
  readonly options: Readonly<Record<string, OptionDef>>;
  readonly examples: readonly Example[];
  readonly hidden: boolean;
  readonly passThrough: boolean;
  /** Parses argv (without the command name) and runs; throws SnapbackError on failure. */
  execute(argv: string[], io: CommandIO): Promise<number>;
}

export function defineCommand<const O extends Record<string, OptionDef>>(
  spec: CommandSpec<O>,
): Command {
  const positionals = spec.positionals ?? [];
  const documented = Object.fromEntries(Object.entries(spec.options).filter(([, o]) => !o.hidden));
  return {
    name: spec.name,
    summary: spec.summary,
    description: spec.description ?? [],
    synopsis: spec.synopsis ?? [defaultSynopsis(spec.name, positionals, documented)],
    positionals,
    options: documented,
    examples: spec.examples,
    hidden: spec.hidden === true,
    passThrough: spec.passThrough === true,
    execute(argv, io) {
      let own = argv;
      let passThrough: string[] = [];
      if (spec.passThrough) {
        const dash = argv.indexOf("--");
        if (dash >= 0) {
          own = argv.slice(0, dash);
          passThrough = argv.slice(dash + 1);
        }
      }
      const parsed = parseCommand(spec.name, own, parserOptions(spec.options));
      return spec.run({ ...parsed, passThrough } as ParsedCommand<O>, io);
    },
  };
}

/** The fields node:util's parseArgs knows; the rest is documentation. */
function parserOptions(options: Record<string, OptionDef>): OptionSpec {
  const out: OptionSpec = {};
  for (const [name, o] of Object.entries(options)) {
    out[name] = {
      type: o.type,
      ...(o.short === undefined ? {} : { short: o.short }),
      ...(o.multiple === undefined ? {} : { multiple: o.multiple }),
    };
  }
  return out;
}

export function optionUsage(name: string, o: OptionDef): string {
  return o.type === "string" ? `--${name} ${o.value ?? "VALUE"}` : `--${name}`;
}

function defaultSynopsis(
  name: string,
  positionals: readonly PositionalDef[],
  options: Record<string, OptionDef>,
): string {
  const parts = [name];
  for (const p of positionals) {
    const word = `${p.name}${p.variadic ? "..." : ""}`;
    parts.push(p.optional ? `[${word}]` : word);
  }
  for (const [n, o] of Object.entries(options))
    parts.push(`[${optionUsage(n, o)}]${o.multiple ? "..." : ""}`);
  return parts.join(" ");
}

export interface CommandIO {
  /** Write a line of human output to stdout. */
  print: (line: string) => void;
  /** Write a JSON document (or one NDJSON event) to stdout. */
  printJson: (value: unknown) => void;
  load: (global: GlobalOptions) => Promise<LoadedConfig>;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
}

export const processIO: CommandIO = {
  print: (line) => process.stdout.write(`${line}\n`),
  printJson: (value) => process.stdout.write(`${JSON.stringify(value)}\n`),
  load: (global) => loadConfig(configPath(global.config)),
  stdoutIsTTY: process.stdout.isTTY,
  stderrIsTTY: process.stderr.isTTY,
};
