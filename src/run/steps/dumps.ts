import { dumpDatabases } from "../../databases/dump.js";
import type { RepositoryStep } from "./each-repository.js";
import type { RunState } from "./types.js";

/** The plan's database dumps into one repository, streamed by the engine (databases/dump.ts). */
export const dumps: RepositoryStep<RunState> = {
  name: "dumps",
  async run({ p, emit, signal, recordFailure }, engine) {
    await dumpDatabases(p, engine, { emit, signal, onFailure: recordFailure });
  },
  describe: ({ dry }) => dry.databases.map((d) => `  ${d}`),
};
