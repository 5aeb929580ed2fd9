import { UsageError } from "../../errors.js";
import { defineCommand } from "../command.js";
import { bashCompletion, fishCompletion, zshCompletion } from "../docs/completions.js";
import { manPage } from "../docs/man.js";
import { commands } from "./index.js";

/**
 * `snapback __complete plans|repositories [PLAN]`: names from the config for the shell
 * completions. A broken or unreadable config completes nothing instead of printing errors
 * into the user's command line.
 */
export const completeCommand = defineCommand({
  name: "__complete",
  summary: "names for shell completion",
  hidden: true,
  positionals: [
    { name: "WHAT", description: "plans or repositories" },
    { name: "PLAN", optional: true, description: "only this plan's repositories" },
  ],
  options: {},
  examples: [],
  async run({ global, positionals }, io) {
    const [what, plan] = positionals;
    if (what !== "plans" && what !== "repositories")
      throw new UsageError('__complete: expected "plans" or "repositories"');
    let names: string[];
    try {
      const { config } = await io.load(global);
      names =
        what === "plans"
          ? Object.keys(config.plans)
          : plan !== undefined && plan !== ""
            ? (config.plans[plan]?.repositories ?? [])
            : Object.keys(config.repositories);
    } catch {
      return 0;
    }
    for (const n of names) io.print(n);
    return 0;
  },
});

/** `snapback __generate man|bash|zsh|fish`: what `make build` writes into dist/. */
export const generateCommand = defineCommand({
  name: "__generate",
  summary: "print the man page or a shell completion script",
  hidden: true,
  positionals: [{ name: "WHAT", description: "man, bash, zsh or fish" }],
  options: {},
  examples: [],
  run({ positionals }) {
    const [what] = positionals;
    const date = process.env["SOURCE_DATE_EPOCH"]
      ? new Date(Number(process.env["SOURCE_DATE_EPOCH"]) * 1000).toISOString().slice(0, 10)
      : "";
    const text =
      what === "man"
        ? manPage(commands, date)
        : what === "bash"
          ? bashCompletion(commands)
          : what === "zsh"
            ? zshCompletion(commands)
            : what === "fish"
              ? fishCompletion(commands)
              : undefined;
    if (text === undefined)
      throw new UsageError('__generate: expected "man", "bash", "zsh" or "fish"');
    process.stdout.write(text);
    return Promise.resolve(0);
  },
});
