import type { CommandWrapper } from "../engine/types.js";
import { viewScript, type ViewSpec } from "./script.js";

/**
 * Wraps an engine command so it runs in the view. `setpriv --pdeathsig INT` makes the engine
 * stop gracefully (SIGINT, as restic needs) if snapback itself is killed.
 */
export function viewWrapper(spec: ViewSpec): CommandWrapper {
  const script = viewScript(spec);
  return (file, args) => ({
    file: "unshare",
    args: [
      "--mount",
      "--propagation",
      "private",
      "--",
      "/bin/bash",
      "-c",
      script,
      "snapback-view",
      "setpriv",
      "--pdeathsig",
      "INT",
      "--",
      file,
      ...args,
    ],
  });
}

/** Runs the command directly: for plans whose sources are all live (`none`). */
export const directWrapper: CommandWrapper = (file, args) => ({
  file: "setpriv",
  args: ["--pdeathsig", "INT", "--", file, ...args],
});
