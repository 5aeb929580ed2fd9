import { errorMessage, SnapbackError, UsageError } from "../errors.js";
import { log, redact, setLogLevel, setProblemSink, type Level } from "../log.js";
import { splitCommand } from "./args.js";
import { commands } from "./commands/index.js";
import { processIO, type Command, type CommandIO } from "./command.js";
import { commandHelp, mainHelp } from "./docs/help.js";
import { VERSION } from "./version.js";

/** What became of the build's V8 code cache for the app (src/cli/load-app.ts). */
export type CodeCacheStatus = "accepted" | "rejected" | "absent";

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
export async function main(
  argv: string[],
  io: CommandIO = processIO,
  startup: { codeCache?: CodeCacheStatus } = {},
): Promise<number> {
  const { command: name, rest } = splitCommand(argv);
  // Only snapback's own arguments: what follows `--` belongs to a wrapped program (restic).
  const dash = argv.indexOf("--");
  const own = dash < 0 ? argv : argv.slice(0, dash);
  const ownRest = rest.indexOf("--") < 0 ? rest : rest.slice(0, rest.indexOf("--"));
  const json = own.includes("--json");
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
    jsonError(io, json, `unknown command "${name}"`, 2);
    process.stderr.write(`${mainHelp(commands)}\n`);
    return 2;
  }
  if (ownRest.includes("--help") || ownRest.includes("-h")) {
    io.print(commandHelp(command));
    return 0;
  }
  try {
    setLogLevel(logLevel(own, process.env));
    if (startup.codeCache !== undefined && startup.codeCache !== "accepted")
      log.verbose(
        `V8 code cache ${startup.codeCache === "absent" ? "missing" : "rejected by this node binary or its flags"}: ` +
          "every command compiles the app first (20–40 ms); `make build` with this node writes a matching one",
      );
    return await command.execute(rest, io);
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
