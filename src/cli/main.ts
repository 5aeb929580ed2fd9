import { loadApp } from "./load-app.js";

// `snapback snapshots | head` closes the pipe early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr])
  stream.on("error", (e: NodeJS.ErrnoException) => {
    // A command that must outlive its reader (a backup the daemon started) handles it itself.
    if (stream.listenerCount("error") > 1) return;
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });

// `--version` answers without loading the rest: the app (every command, the zod schemas) is
// loaded only for a command that needs it.
const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
  process.stdout.write(`snapback ${(await import("./version.js")).VERSION}\n`);
} else {
  const app = loadApp();
  process.exitCode = await app.main(argv, undefined, { codeCache: app.codeCache });
}
