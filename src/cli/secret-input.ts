import { UsageError } from "../errors.js";

/**
 * A secret from stdin: on a terminal, prompted with echo off (raw mode, read up to Enter);
 * otherwise the first line of stdin (`echo pw | snapback user add NAME`).
 */
export async function readSecret(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (stdin.isTTY) {
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    try {
      return await new Promise<string>((resolve, reject) => {
        let text = "";
        const onData = (chunk: Buffer): void => {
          for (const ch of chunk.toString("utf8")) {
            if (ch === "\r" || ch === "\n") {
              stdin.off("data", onData);
              return resolve(text);
            }
            if (ch === "\u0003") {
              stdin.off("data", onData);
              return reject(new UsageError("cancelled"));
            }
            if (ch === "\u007f") text = text.slice(0, -1);
            else text += ch;
          }
        };
        stdin.on("data", onData);
      });
    } finally {
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
    }
  }
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(chunk as Buffer);
  const line = Buffer.concat(chunks).toString("utf8").split("\n")[0] ?? "";
  if (line === "") throw new UsageError("no password on stdin");
  return line;
}
