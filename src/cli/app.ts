import { errorMessage, SnapbackError, UsageError } from "../errors.js";
import { log, redact, setLogLevel, type Level } from "../log.js";
import { splitCommand } from "./args.js";
import { commands } from "./commands/index.js";
import { processIO, type Command, type CommandIO } from "./command.js";
import { commandHelp, mainHelp, VERSION } from "./docs/help.js";

export function findCommand(name: string): Command | undefined {
  return commands.find((c) => c.name === name);
}

/** --quiet/--verbose win over SNAPBACK_LOG_LEVEL, which wins over the default. */
function logLevel(argv: readonly string[], env: NodeJS.ProcessEnv): Level {
  if (argv.includes("--quiet") || argv.includes("-q")) return "quiet";
  if (argv.includes("--verbose") || argv.includes("-v")) return "verbose";
  const fromEnv = env["SNAPBACK_LOG_LEVEL"];
  if (fromEnv === undefined || fromEnv === "") return "normal";
  if (fromEnv === "quiet" || fromEnv === "normal" || fromEnv === "verbose") return fromEnv;
  throw new UsageError(
    `SNAPBACK_LOG_LEVEL: "${fromEnv}" is not a log level (quiet, normal, verbose)`,
  );
}

/**
 * The one place errors are caught: a SnapbackError is a message for the user and an exit
 * code; anything else is a bug and gets its stack.
 */
export async function main(argv: string[], io: CommandIO = processIO): Promise<number> {
  const { command: name, rest } = splitCommand(argv);
  // Only snapback's own arguments: what follows `--` belongs to a wrapped program (restic).
  const dash = argv.indexOf("--");
  const own = dash < 0 ? argv : argv.slice(0, dash);
  const ownRest = rest.indexOf("--") < 0 ? rest : rest.slice(0, rest.indexOf("--"));
  if (name === undefined && (own.includes("--version") || own.includes("-V"))) {
    io.print(`snapback ${VERSION}`);
    return 0;
  }
  if (name === undefined) {
    io.print(mainHelp(commands));
    return own.includes("--help") || own.includes("-h") ? 0 : 2;
  }
  const command = findCommand(name);
  if (!command) {
    log.error(`unknown command "${name}"`);
    process.stderr.write(`${mainHelp(commands)}\n`);
    return 2;
  }
  if (ownRest.includes("--help") || ownRest.includes("-h")) {
    io.print(commandHelp(command));
    return 0;
  }
  try {
    setLogLevel(logLevel(own, process.env));
    return await command.execute(rest, io);
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
