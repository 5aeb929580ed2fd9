import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "../errors.js";

/** Options every command accepts, before or after the command name. */
export interface GlobalOptions {
  config: string | undefined;
  json: boolean;
  verbose: boolean;
  quiet: boolean;
}

/** Global options, documented here for `--help`, the man page and the completions. */
export const GLOBAL_OPTIONS = {
  config: {
    type: "string",
    value: "FILE",
    description: "the config file (default: $SNAPBACK_CONFIG, else /etc/snapback/snapback.toml)",
  },
  json: { type: "boolean", description: "machine-readable output on stdout (logs stay on stderr)" },
  verbose: { type: "boolean", short: "v", description: "more detail on stderr" },
  quiet: { type: "boolean", short: "q", description: "only warnings and errors on stderr" },
  help: { type: "boolean", short: "h", description: "show the help of the command and exit" },
} as const;

const globalOptionSpec = {
  config: { type: "string" },
  json: { type: "boolean" },
  verbose: { type: "boolean", short: "v" },
  quiet: { type: "boolean", short: "q" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsConfig["options"];

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

export interface ParsedCommand<T extends OptionSpec> {
  global: GlobalOptions;
  values: {
    [K in keyof T]?: T[K] extends { type: "string"; multiple: true }
      ? string[]
      : T[K] extends { type: "string" }
        ? string
        : boolean;
  };
  positionals: string[];
  help: boolean;
  /** What followed `--` for commands that pass arguments on (`restic`); else empty. */
  passThrough: string[];
}

/** Splits argv into the command name and the rest, skipping global options before it. */
export function splitCommand(argv: string[]): { command: string | undefined; rest: string[] } {
  const rest = [...argv];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] ?? "";
    if (a === "--config") {
      i++;
      continue;
    }
    if (a.startsWith("-")) continue;
    rest.splice(i, 1);
    return { command: a, rest };
  }
  return { command: undefined, rest };
}

export function parseCommand<T extends OptionSpec>(
  command: string,
  argv: string[],
  options: T,
): ParsedCommand<T> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...globalOptionSpec, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    const msg = e instanceof Error ? e.message.replace(/\. To specify.*$/s, "") : String(e);
    throw new UsageError(`${command}: ${msg}`, { hint: `see: snapback ${command} --help` });
  }
  const v = parsed.values as Record<string, unknown>;
  if (v["verbose"] && v["quiet"]) throw new UsageError("--verbose and --quiet exclude each other");
  // SNAPBACK_LOG_LEVEL (checked in main) stands in for --quiet/--verbose when neither is given.
  const envLevel = process.env["SNAPBACK_LOG_LEVEL"];
  const flagged = v["verbose"] === true || v["quiet"] === true;
  return {
    global: {
      config: v["config"] as string | undefined,
      json: v["json"] === true,
      verbose: v["verbose"] === true || (!flagged && envLevel === "verbose"),
      quiet: v["quiet"] === true || (!flagged && envLevel === "quiet"),
    },
    values: v as ParsedCommand<T>["values"],
    positionals: parsed.positionals,
    help: v["help"] === true,
    passThrough: [],
  };
}

/** "90s", "5m", "2h", "1h30m" → milliseconds. */
export function parseDuration(text: string, what: string): number {
  const re = /(\d+)(ms|s|m|h|d)/g;
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    const n = Number(m[1]);
    const unit = m[2];
    total +=
      n *
      (unit === "ms" ? 1 : unit === "s" ? 1e3 : unit === "m" ? 6e4 : unit === "h" ? 36e5 : 864e5);
    consumed += m[0].length;
  }
  if (consumed !== text.length || consumed === 0)
    throw new UsageError(`${what}: "${text}" is not a duration (like 30s, 5m, 1h)`);
  return total;
}
