import { errorMessage, SnapbackError } from "../errors.js";
import { log, redact, setLogLevel, setProblemSink } from "../log.js";
import { splitCommand } from "./args.js";
import { commands } from "./commands/index.js";
import { processIO, type CommandIO } from "./command.js";

const VERSION = "0.1.0";

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
 * With --json a failure is also a JSON document on stdout (the human line stays on stderr), so
 * a script reading stdout learns why, not just that, a command failed.
 */
function jsonError(
  io: CommandIO,
  json: boolean,
  message: string,
  exitCode: number,
  hint?: string,
): void {
  if (!json) return;
  io.printJson({
    type: "error",
    message: redact(message),
    exit_code: exitCode,
    ...(hint ? { hint: redact(hint) } : {}),
  });
}

/**
 * The one place errors are caught: a SnapbackError is a message for the user and an exit
 * code; anything else is a bug and gets its stack.
 */
export async function main(argv: string[], io: CommandIO = processIO): Promise<number> {
  const { command: name, rest } = splitCommand(argv);
  const json = argv
    .slice(0, argv.includes("--") ? argv.indexOf("--") : argv.length)
    .includes("--json");
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
    jsonError(io, json, `unknown command "${name}"`, 2);
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
    // The failure is printed once, below, whatever event stream the command had set up.
    setProblemSink(undefined);
    if (e instanceof SnapbackError) {
      log.error(e.message);
      if (e.hint) process.stderr.write(`hint: ${redact(e.hint)}\n`);
      jsonError(io, json, e.message, e.exitCode, e.hint);
      return e.exitCode;
    }
    log.error(`internal error: ${errorMessage(e)}`);
    jsonError(io, json, `internal error: ${errorMessage(e)}`, 1);
    if (e instanceof Error && e.stack) process.stderr.write(`${redact(e.stack)}\n`);
    return 1;
  }
}
