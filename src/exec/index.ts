export { run, which, commandLine, type RunOptions, type RunResult } from "./spawn.js";
export { ProcessError } from "./error.js";
export { terminate } from "./terminate.js";
