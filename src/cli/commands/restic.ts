import { runResticWrapper } from "../../engine/restic/inspect.js";
import { UsageError } from "../../errors.js";
import { withInterrupts } from "../../core/signals.js";
import { defineCommand } from "../command.js";
import { planRepositories } from "./repository.js";

export const resticCommand = defineCommand({
  name: "restic",
  summary: "run restic against a plan's repository with its password and environment",
  synopsis: ["restic PLAN [--repository NAME] -- RESTIC-ARGS..."],
  description: [
    "Like nixpkgs' createWrapper: restic runs with the repository's URL, password and env in its environment (never on its command line) and snapback's cache directory, on this terminal, and its exit code is snapback's. Everything after -- goes to restic unchanged.",
  ],
  positionals: [
    { name: "PLAN", description: "the plan whose repository to use", complete: "plan" },
    {
      name: "RESTIC-ARGS",
      optional: true,
      variadic: true,
      description: "restic's command and arguments (after --)",
    },
  ],
  options: {
    repository: {
      type: "string",
      value: "NAME",
      description: "which of the plan's repositories (default: its first)",
      complete: "repository",
    },
  },
  passThrough: true,
  examples: [
    {
      command: "snapback restic home -- snapshots --tag plan:home",
      description: "restic's own listing of the plan's backups",
    },
    {
      command: "snapback restic home --repository offsite -- mount /mnt/restic",
      description: "browse the offsite repository with restic mount",
    },
  ],
  async run({ global, values, positionals, passThrough }, io) {
    const [plan, ...words] = positionals;
    if (plan === undefined)
      throw new UsageError("restic: name a PLAN", { hint: "see: snapback restic --help" });
    const args = [...words, ...passThrough];
    if (args.length === 0)
      throw new UsageError("restic: name the restic command after --", {
        hint: `example: snapback restic ${plan} -- snapshots`,
      });
    const { config } = await io.load(global);
    const [opened] = await planRepositories(config, "restic", plan, values.repository, "first");
    if (!opened) throw new UsageError(`restic: plan "${plan}" has no repository`);
    const { value, interruptedBy } = await withInterrupts((signal) =>
      runResticWrapper(opened.target, args, { ...opened.options, signal }),
    );
    return interruptedBy ? 130 : value;
  },
});
