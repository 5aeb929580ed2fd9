/**
 * Logging to stderr (stdout is reserved for results and --json). Every line passes through
 * the redactor, which knows every secret value loaded so far.
 */
export type Level = "quiet" | "normal" | "verbose";

const secrets = new Set<string>();
let level: Level = "normal";
/** Set by commands whose --json output is a stream of events (`backup`): problems go there too. */
let problemSink: ((type: "warning" | "error", message: string) => void) | undefined;

/** With --json, a warning or error is also a JSON event on stdout (the human line stays on stderr). */
export function setProblemSink(
  sink: ((type: "warning" | "error", message: string) => void) | undefined,
): void {
  problemSink = sink;
}

export function setLogLevel(l: Level): void {
  level = l;
}

export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 3) secrets.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join("***");
  return out;
}

function write(prefix: string, message: string): void {
  process.stderr.write(`${prefix}${redact(message)}\n`);
}

export const log = {
  info(message: string): void {
    if (level !== "quiet") write("", message);
  },
  verbose(message: string): void {
    if (level === "verbose") write("", message);
  },
  warn(message: string): void {
    write("warning: ", message);
    problemSink?.("warning", redact(message));
  },
  error(message: string): void {
    write("error: ", message);
    problemSink?.("error", redact(message));
  },
};
