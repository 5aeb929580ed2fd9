import { stringify } from "smol-toml";
import { redactConfig } from "../../config/redact.js";
import { UsageError } from "../../errors.js";
import { validateCalendars } from "../../schedule/calendar.js";
import { parseCommand } from "../args.js";
import type { Command } from "../command.js";

export const configCommand: Command = {
  name: "config",
  summary: "config validate | config show (secrets redacted)",
  usage: "snapback config validate|show",
  async run(argv, io) {
    const { global, positionals, help } = parseCommand("config", argv, {});
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
    const { path, config } = await io.load(global);
    if (sub === "validate") {
      await validateCalendars(config);
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
