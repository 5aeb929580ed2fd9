import { errorMessage, SnapbackError } from "../errors.js";
import { log, redact, setLogLevel } from "../log.js";
import { splitCommand } from "./args.js";
import { commands } from "./commands/index.js";
import { processIO, type CommandIO } from "./command.js";
import { VERSION } from "./version.js";

function usage(): string {
  const lines = [
    "usage: snapback [--config FILE] [--json] [--verbose|--quiet] COMMAND [ARGS]",
    "",
    "commands:",
    ...commands.map((c) => `  ${c.name.padEnd(18)} ${c.summary}`),
    "",
    "config: --config FILE, else $SNAPBACK_CONFIG, else /etc/snapback/snapback.toml",
    "exit codes: 0 ok, 1 failed, 2 usage/config, 3 partial, 4 locked, 130 interrupted",
  ];
  return lines.join("\n");
}

/**
 * The one place errors are caught: a SnapbackError is a message for the user and an exit
 * code; anything else is a bug and gets its stack.
 */
export async function main(argv: string[], io: CommandIO = processIO): Promise<number> {
  const { command: name, rest } = splitCommand(argv);
  if (argv.includes("--version") && name === undefined) {
    io.print(`snapback ${VERSION}`);
    return 0;
  }
  if (name === undefined || name === "help") {
    io.print(usage());
    return name === undefined && !argv.includes("--help") && !argv.includes("-h") ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name || c.name.split(" ")[0] === name);
  if (!command) {
    log.error(`unknown command "${name}"`);
    process.stderr.write(`${usage()}\n`);
    return 2;
  }
  setLogLevel(
    argv.includes("--quiet") || argv.includes("-q")
      ? "quiet"
      : argv.includes("--verbose") || argv.includes("-v")
        ? "verbose"
        : "normal",
  );
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof SnapbackError) {
      log.error(e.message);
      if (e.hint) process.stderr.write(`hint: ${redact(e.hint)}\n`);
      return e.exitCode;
    }
    log.error(`internal error: ${errorMessage(e)}`);
    if (e instanceof Error && e.stack) process.stderr.write(`${redact(e.stack)}\n`);
    return 1;
  }
}
