import { defineCommand } from "../command.js";

export const serveCommand = defineCommand({
  name: "serve",
  summary: "the daemon: scheduler, web UI, JSON API, live events, D-Bus (until SIGTERM)",
  description: [
    "Runs in the foreground until SIGTERM, which stops running backups the way SIGTERM stops the CLI and exits 0. Tells systemd when it is ready (Type=notify). Configured by [server].",
  ],
  options: {
    listen: {
      type: "string",
      value: "ADDR",
      description: "host:port to listen on (default [server] listen, 127.0.0.1:8470)",
    },
  },
  examples: [
    { command: "snapback serve", description: "on 127.0.0.1:8470" },
    { command: "snapback serve --listen 127.0.0.1:9000", description: "another port" },
  ],
  async run({ global, values }, io) {
    const { config, path } = await io.load(global);
    const script = process.argv[1] ?? "snapback";
    // The daemon (HTTP server, web UI, scheduler, D-Bus) loads only for `serve`: the other
    // commands would parse it for nothing (scripts/build.mjs splits it into a chunk).
    const [{ runDaemon }, { attachDbus }] = await Promise.all([
      import("../../serve/daemon.js"),
      import("../../serve/dbus.js"),
    ]);
    return runDaemon({
      config,
      ...(values.listen === undefined ? {} : { listen: values.listen }),
      // Backups run as `snapback --json backup PLAN` children of this very program.
      child: { file: process.execPath, args: [script, "--config", path] },
      attach: attachDbus,
    });
  },
});
