import { HookRunner, type RunFacts } from "../../hooks/index.js";
import { log } from "../../log.js";
import { notifyStart } from "../../notify/index.js";
import { Journal } from "../../core/journal.js";
import type { RunState, RunStep } from "./types.js";

export interface Started {
  hooks: HookRunner;
  /** What hooks are told about the run. */
  facts: RunFacts;
  /** Everything the run creates is journaled before it is created. */
  journal: Journal;
}

/**
 * The run exists from here on: the `start` event, the warnings known from planning, the
 * history record, the start notification and the journal. A failure here is not a run's
 * failure (nothing was made yet): it is thrown.
 */
export const start: RunStep<RunState & { staleLocks: readonly string[] }, Started> = {
  name: "start",
  async run({ p, emit, warn, history, notify, startedAt, staleLocks }) {
    emit({
      type: "start",
      plan: p.planName,
      run_id: p.runId,
      sources: p.sources.map((s) => s.path),
      repositories: p.repositories,
    });
    for (const s of staleLocks) warn(s);
    for (const s of p.notPointInTime)
      warn(`${s} is not on a snapshot-capable filesystem: backed up live, not point-in-time`);
    for (const w of p.warnings) emit({ type: "warning", plan: p.planName, message: w });
    history?.startRun({
      runId: p.runId,
      plan: p.planName,
      repositories: p.repositories,
      startedAt,
      pid: process.pid,
    });
    const hooks = new HookRunner(p.planName, p.plan.hooks, {
      onOutput: (line, info) => log.verbose(`hook ${info.name}: ${line}`),
      onWarning: (m) => warn(m),
    });
    const facts: RunFacts = {
      runId: p.runId,
      sources: p.sources.map((s) => s.path),
      repositories: p.repositories,
    };
    await notifyStart(notify, {
      plan: p.planName,
      run_id: p.runId,
      sources: facts.sources,
      repositories: p.repositories,
    });
    const journal = await Journal.create(p.stateDir, p.runId, p.planName);
    return { hooks, facts, journal };
  },
};
