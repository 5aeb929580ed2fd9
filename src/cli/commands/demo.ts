import { runDemo } from "../../demo/demo.js";
import { withInterrupts } from "../../core/signals.js";
import { defineCommand } from "../command.js";

export const demoCommand = defineCommand({
  name: "demo",
  summary:
    "self-contained demonstration on a loopback btrfs image (needs root); leaves nothing behind",
  options: {},
  examples: [{ command: "sudo snapback demo", description: "run the demonstration" }],
  async run(_args, io) {
    // The demo's own backups run through the same CLI code a user's would.
    const { main } = await import("../app.js");
    const { interruptedBy } = await withInterrupts(() =>
      runDemo({ say: io.print, snapback: (args) => main(args, io) }),
    );
    return interruptedBy ? 130 : 0;
  },
});
