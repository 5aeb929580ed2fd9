import { UsageError } from "../../errors.js";
import { defineCommand } from "../command.js";
import { commandHelp, mainHelp, visible } from "../docs/help.js";
import { commands } from "./index.js";

export const helpCommand = defineCommand({
  name: "help",
  summary: "show the help of a command, or list the commands",
  positionals: [
    {
      name: "COMMAND",
      optional: true,
      description: "the command to explain (default: list every command)",
      complete: "command",
    },
  ],
  options: {},
  examples: [
    { command: "snapback help", description: "list the commands" },
    { command: "snapback help restore", description: "usage, options and examples of restore" },
  ],
  run({ positionals }, io) {
    const [name, ...extra] = positionals;
    if (extra.length > 0) throw new UsageError("help: name one command");
    if (name === undefined) {
      io.print(mainHelp(commands));
      return Promise.resolve(0);
    }
    const command = commands.find((c) => c.name === name);
    if (!command)
      throw new UsageError(`help: unknown command "${name}"`, {
        hint: `commands: ${visible(commands)
          .map((c) => c.name)
          .join(", ")}`,
      });
    io.print(commandHelp(command));
    return Promise.resolve(0);
  },
});
