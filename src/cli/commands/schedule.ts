import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { errorMessage, UsageError } from "../../errors.js";
import { run } from "../../exec/index.js";
import { log } from "../../log.js";
import { validateCalendars } from "../../schedule/calendar.js";
import { unitsFor } from "../../schedule/units.js";
import { defineCommand } from "../command.js";

export const scheduleCommand = defineCommand({
  name: "schedule",
  summary: "systemd timers for plans with a schedule: schedule show | schedule install",
  synopsis: ["schedule show", "schedule install [--dir DIR] [--no-enable]"],
  positionals: [
    {
      name: "ACTION",
      description: "show (print the units) or install (write them and enable the timers)",
      complete: ["show", "install"],
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
  },
  examples: [
    { command: "snapback schedule show", description: "the service and timer units of every plan" },
    {
      command: "snapback schedule install",
      description: "install them and enable the timers (systemctl enable --now)",
    },
  ],
  async run({ global, values, positionals }, io) {
    const [sub, ...extra] = positionals;
    if (extra.length > 0 || (sub !== "show" && sub !== "install")) {
      throw new UsageError('schedule: expected "show" or "install"', {
        hint: "see: snapback schedule --help",
      });
    }
    const { path, config } = await io.load(global);
    const self = [process.execPath, resolve(process.argv[1] ?? "snapback")];
    const units = unitsFor(config, resolve(path), self);
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
