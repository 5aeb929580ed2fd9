export { run, which, commandLine, type RunOptions, type RunResult } from "./spawn.js";
export { ProcessError } from "./error.js";
export { terminate } from "./terminate.js";
export {
  pipeline,
  pipelineCommand,
  PipelineError,
  type PipelineStage,
  type PipelineOptions,
  type PipelineResult,
} from "./pipeline.js";
