import { stringify } from "smol-toml";
import { configPath, loadConfig } from "../../config/load.js";
import { redactConfig } from "../../config/redact.js";
import { UsageError } from "../../errors.js";
import { checkConfigHere } from "../../preflight/index.js";
import { validateCalendars } from "../../schedule/calendar.js";
import { defineCommand } from "../command.js";
import { aptLine, exitCodeOf, formatFindings } from "./findings.js";
import { requirePlans } from "./plans.js";

export const configCommand = defineCommand({
  name: "config",
  summary: "config validate | config show (secrets redacted)",
  synopsis: ["config validate [--deep | --schema-only]", "config show"],
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
  options: {
    deep: {
      type: "boolean",
      description:
        "validate: also check this machine: sources, password files and their modes, repositories reachable and openable, hook programs, database clients, tools",
    },
    "schema-only": {
      type: "boolean",
      description:
        "validate: only the file's syntax and schema; no file modes, systemd or machine checks (for build sandboxes such as the NixOS module's check)",
    },
  },
  examples: [
    { command: "snapback config validate", description: "check /etc/snapback/snapback.toml" },
    {
      command: "snapback config validate --deep",
      description: "and whether it can run on this machine",
    },
    {
      command: "snapback --config ./test.toml config show",
      description: "the effective config of another file, secrets redacted",
    },
  ],
  async run({ global, values, positionals }, io) {
    const [sub, ...extra] = positionals;
    if (extra.length > 0 || (sub !== "validate" && sub !== "show")) {
      throw new UsageError(
        `config: expected "validate" or "show"${sub ? `, got "${[sub, ...extra].join(" ")}"` : ""}`,
      );
    }
    if (values.deep && sub !== "validate")
      throw new UsageError("config show: --deep is for validate");
    const schemaOnly = values["schema-only"] === true;
    if (schemaOnly && sub !== "validate")
      throw new UsageError("config show: --schema-only is for validate");
    if (schemaOnly && values.deep)
      throw new UsageError("config validate: --deep and --schema-only exclude each other");
    const { path, config } = schemaOnly
      ? await loadConfig(configPath(global.config), { schemaOnly })
      : await io.load(global);
    if (sub === "validate") {
      if (!schemaOnly) await validateCalendars(config);
      requirePlans(path, config);
      const plans = Object.keys(config.plans).length;
      const repos = Object.keys(config.repositories).length;
      const counts = `${plans} plan${plans === 1 ? "" : "s"}, ${repos} repositor${repos === 1 ? "y" : "ies"}`;
      if (!values.deep) {
        if (global.json) io.printJson({ valid: true, path, plans, repositories: repos });
        else
          io.print(
            `${path}: valid (${counts}); 'config validate --deep' also checks sources, password files and repositories on this machine`,
          );
        return 0;
      }
      const checks = await checkConfigHere(config);
      const code = exitCodeOf(checks);
      if (global.json)
        io.printJson({
          valid: code === 0,
          path,
          plans,
          repositories: repos,
          checks,
          apt: aptLine(checks) ?? null,
        });
      else {
        for (const line of formatFindings(checks)) io.print(line);
        io.print(
          code === 0
            ? `${path}: valid (${counts}) and can run here`
            : `${path}: valid, but cannot run here until the failures above are fixed`,
        );
      }
      return code;
    }
    const shown = redactConfig(config);
    if (global.json) io.printJson(shown);
    else io.print(stringify(shown));
    return 0;
  },
});
