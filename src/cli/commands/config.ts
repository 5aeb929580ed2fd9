import { stringify } from "smol-toml";
import { redactConfig } from "../../config/redact.js";
import { UsageError } from "../../errors.js";
import { validateCalendars } from "../../schedule/calendar.js";
import { defineCommand } from "../command.js";

export const configCommand = defineCommand({
  name: "config",
  summary: "config validate | config show (secrets redacted)",
  synopsis: ["config validate", "config show"],
  description: [
    "validate reads and checks the config file and exits 2 naming every bad key; show prints the effective config (defaults filled in, environment overrides applied) with every secret replaced.",
  ],
  positionals: [
    {
      name: "ACTION",
      description: "validate or show",
      complete: ["validate", "show"],
    },
  ],
  options: {},
  examples: [
    { command: "snapback config validate", description: "check /etc/snapback/snapback.toml" },
    {
      command: "snapback --config ./test.toml config show",
      description: "the effective config of another file, secrets redacted",
    },
  ],
  async run({ global, positionals }, io) {
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
});
