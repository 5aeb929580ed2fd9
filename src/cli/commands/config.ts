import { stringify } from "smol-toml";
import { configPath, loadConfig } from "../../config/load.js";
import { redactConfig } from "../../config/redact.js";
import { UsageError } from "../../errors.js";
import { validateCalendars } from "../../schedule/calendar.js";
import { parseCommand } from "../args.js";
import type { Command } from "../command.js";

export const configCommand: Command = {
  name: "config",
  summary: "config validate | config show (secrets redacted)",
  usage:
    "snapback config validate [--schema-only] | config show\n" +
    "  --schema-only  only the file's syntax and schema: no file modes, no systemd, no machine\n" +
    "                 checks (for build sandboxes such as the NixOS module's check)",
  async run(argv, io) {
    const { global, positionals, values, help } = parseCommand("config", argv, {
      "schema-only": { type: "boolean" },
    });
    if (help) {
      io.print(this.usage);
      return 0;
    }
    const [sub, ...extra] = positionals;
    if (extra.length > 0 || (sub !== "validate" && sub !== "show")) {
      throw new UsageError(
        `config: expected "validate" or "show"${sub ? `, got "${[sub, ...extra].join(" ")}"` : ""}`,
      );
    }
    const schemaOnly = values["schema-only"] === true;
    if (schemaOnly && sub !== "validate")
      throw new UsageError("config: --schema-only goes with validate");
    const { path, config } = schemaOnly
      ? await loadConfig(configPath(global.config), { schemaOnly })
      : await io.load(global);
    if (sub === "validate") {
      if (!schemaOnly) await validateCalendars(config);
      const plans = Object.keys(config.plans).length;
      const repos = Object.keys(config.repositories).length;
      if (global.json) io.printJson({ valid: true, path, plans, repositories: repos });
      else
        io.print(
          `${path}: valid (${plans} plan${plans === 1 ? "" : "s"}, ${repos} repositor${repos === 1 ? "y" : "ies"})`,
        );
      return 0;
    }
    const shown = redactConfig(config);
    if (global.json) io.printJson(shown);
    else io.print(stringify(shown));
    return 0;
  },
};
