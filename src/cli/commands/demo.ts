import { runDemo } from "../../demo/demo.js";
import { withInterrupts } from "../../run/signals.js";
import { parseCommand } from "../args.js";
import type { Command } from "../command.js";

export const demoCommand: Command = {
  name: "demo",
  summary:
    "self-contained demonstration on a loopback btrfs image (needs root); leaves nothing behind",
  usage: "snapback demo",
  async run(argv, io) {
    const { help } = parseCommand("demo", argv, {});
    if (help) {
      io.print(this.usage);
      return 0;
    }
    // The demo's own backups run through the same CLI code a user's would.
    const { main } = await import("../app.js");
    const { interruptedBy } = await withInterrupts(() =>
      runDemo({ say: io.print, snapback: (args) => main(args, io) }),
    );
    return interruptedBy ? 130 : 0;
  },
};
