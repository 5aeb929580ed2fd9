import { configPath, loadConfig, type LoadedConfig } from "../config/load.js";
import type { GlobalOptions } from "./args.js";

/** One subcommand: parses its own arguments, throws on failure, returns an exit code. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(argv: string[], io: CommandIO): Promise<number>;
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
