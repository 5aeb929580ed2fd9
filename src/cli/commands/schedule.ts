import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { errorMessage, UsageError } from "../../errors.js";
import { run } from "../../exec/index.js";
import { log } from "../../log.js";
import { validateCalendars } from "../../schedule/calendar.js";
import { isLaptop } from "../../schedule/laptop.js";
import { backupService, serveService, unitsFor } from "../../schedule/units.js";
import { defineCommand } from "../command.js";

export const scheduleCommand = defineCommand({
  name: "schedule",
  summary: "systemd timers for plans with a schedule: schedule show | install | units",
  synopsis: [
    "schedule show",
    "schedule install [--dir DIR] [--no-enable]",
    "schedule units [--executable PATH]",
  ],
  positionals: [
    {
      name: "ACTION",
      description:
        "show (print the units), install (write them and enable the timers), units (the template snapback@.service and snapback-serve.service that make install ships)",
      complete: ["show", "install", "units"],
    },
  ],
  options: {
    dir: {
      type: "string",
      value: "DIR",
      description: "write the units into DIR instead of /etc/systemd/system (enables nothing)",
      complete: "dir",
    },
    "no-enable": {
      type: "boolean",
      description: "write the units but do not enable and start the timers",
    },
    executable: {
      type: "string",
      value: "PATH",
      description: "units: the snapback the units run (default: this one)",
      complete: "file",
    },
  },
  examples: [
    { command: "snapback schedule show", description: "the service and timer units of every plan" },
    {
      command: "snapback schedule install",
      description: "install them and enable the timers (systemctl enable --now)",
    },
    {
      command: "snapback schedule units --executable /usr/bin/snapback",
      description: "the units a package installs",
    },
  ],
  async run({ global, values, positionals }, io) {
    const [sub, ...extra] = positionals;
    if (extra.length > 0 || (sub !== "show" && sub !== "install" && sub !== "units")) {
      throw new UsageError('schedule: expected "show", "install" or "units"', {
        hint: "see: snapback schedule --help",
      });
    }
    // The launcher `make install` writes names itself; from a clone, node runs the bundle.
    const launcher = values.executable ?? process.env["SNAPBACK_EXECUTABLE"];
    const self = launcher ? [launcher] : [process.execPath, resolve(process.argv[1] ?? "snapback")];
    if (sub === "units") {
      const units = [
        {
          name: "snapback@.service",
          text: backupService({ snapback: self, globalArgs: [], plan: "%i", inhibitSleep: false }),
        },
        { name: "snapback-serve.service", text: serveService(self, []) },
      ];
      if (global.json) io.printJson(units);
      else for (const u of units) io.print(`# ${u.name}\n${u.text}`);
      return 0;
    }
    const { path, config } = await io.load(global);
    const units = unitsFor(config, resolve(path), self, await isLaptop());
    await validateCalendars(config);
    if (units.length === 0) {
      io.print('no plan has a schedule (plans.NAME.schedule = "daily")');
      return 0;
    }
    if (sub === "show") {
      if (global.json) io.printJson(units);
      else for (const u of units) io.print(`# ${u.name}\n${u.text}`);
      return 0;
    }
    const dir = values.dir ?? "/etc/systemd/system";
    await mkdir(dir, { recursive: true });
    for (const u of units) {
      await writeFile(join(dir, u.name), u.text, { mode: 0o644 });
      io.print(`wrote ${join(dir, u.name)}`);
    }
    if (values["no-enable"] || values.dir !== undefined) return 0;
    const timers = units.filter((u) => u.name.endsWith(".timer")).map((u) => u.name);
    try {
      await run("systemctl", ["daemon-reload"]);
      await run("systemctl", ["enable", "--now", ...timers]);
      io.print(`enabled ${timers.join(", ")}`);
    } catch (e) {
      log.warn(
        `could not enable the timers (${errorMessage(e)}); run: systemctl enable --now ${timers.join(" ")}`,
      );
      return 1;
    }
    return 0;
  },
});
