import { isAbsolute } from "node:path";
import { UsageError } from "../errors.js";
import type { Config } from "./schema.js";

/**
 * Environment overrides of config keys, applied after the file is validated. They are for
 * tests, containers and one-off runs against a scratch state directory without editing the
 * config: `SNAPBACK_STATE_DIR=/tmp/s snapback status`.
 */
export function applyEnvironment(config: Config, env: NodeJS.ProcessEnv = process.env): Config {
  const stateDir = env["SNAPBACK_STATE_DIR"];
  if (stateDir === undefined || stateDir === "") return config;
  if (stateDir.includes("\0")) throw new UsageError("SNAPBACK_STATE_DIR: contains a NUL character");
  if (!isAbsolute(stateDir))
    throw new UsageError(`SNAPBACK_STATE_DIR: "${stateDir}" must be an absolute path`);
  return { ...config, state_dir: stateDir };
}
