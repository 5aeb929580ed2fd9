import { runDaemon } from "../../serve/daemon.js";
import { parseCommand } from "../args.js";
import type { Command } from "../command.js";

export const serveCommand: Command = {
  name: "serve",
  summary: "the daemon: scheduler, JSON API, live events (until SIGTERM)",
  usage:
    "snapback serve [--listen ADDR]\n  --listen ADDR  host:port to listen on (default [server] listen, 127.0.0.1:8470)",
  async run(argv, io) {
    const { global, values, help } = parseCommand("serve", argv, {
      listen: { type: "string" },
    });
    if (help) {
      io.print(this.usage);
      return 0;
    }
    const { config, path } = await io.load(global);
    const script = process.argv[1] ?? "snapback";
    return runDaemon({
      config,
      ...(values.listen === undefined ? {} : { listen: values.listen }),
      // Backups run as `snapback --json backup PLAN` children of this very program.
      child: { file: process.execPath, args: [script, "--config", path] },
    });
  },
};
