import { checkExitCode, checkPlans, type CheckDocument } from "../../check/run.js";
import { READ_DATA_FORMS, readDataSubsetProblem } from "../../config/read-data.js";
import { UsageError } from "../../errors.js";
import { log } from "../../log.js";
import { withInterrupts } from "../../core/signals.js";
import { planRun } from "../../run/plan.js";
import { defineCommand } from "../command.js";
import { selectPlans } from "./plans.js";

export const checkCommand = defineCommand({
  name: "check",
  summary: "verify repositories; --spot N compares N restored files with a fresh snapshot",
  positionals: [
    {
      name: "PLAN",
      optional: true,
      variadic: true,
      description: "plans whose repositories to check (default: every plan)",
      complete: "plan",
    },
  ],
  options: {
    "read-data": {
      type: "string",
      value: "SUBSET",
      description: `also read back pack data: ${READ_DATA_FORMS}`,
    },
    spot: {
      type: "string",
      value: "N",
      description:
        "restore N random files of each plan's newest backup and compare them (bytes, mode, mtime) with a fresh snapshot of the sources",
    },
  },
  examples: [
    { command: "snapback check", description: "check the structure of every repository" },
    {
      command: "snapback check home --read-data 10% --spot 50",
      description: "also read a tenth of the data and compare 50 restored files",
    },
  ],
  async run({ global, values, positionals }, io) {
    const readData = values["read-data"];
    if (readData !== undefined) {
      const problem = readDataSubsetProblem(readData);
      if (problem !== undefined) throw new UsageError(`check: --read-data ${problem}`);
    }
    let spot: number | undefined;
    if (values.spot !== undefined) {
      if (!/^[1-9]\d*$/.test(values.spot))
        throw new UsageError(
          `check: --spot ${values.spot}: must be a whole number of files, at least 1`,
        );
      spot = Number(values.spot);
    }
    const { config } = await io.load(global);
    const planNames = selectPlans(config, positionals);

    const { value: doc, interruptedBy } = await withInterrupts((signal) =>
      checkPlans(config, planNames, {
        planRun: (planName, runId) => planRun(config, planName, runId),
        ...(readData === undefined ? {} : { readData }),
        ...(spot === undefined ? {} : { spot }),
        signal,
        onWarning: (m) => log.warn(m),
      }),
    );
    if (interruptedBy) return 130;
    if (global.json) io.printJson(doc);
    else for (const line of describeCheck(doc)) io.print(line);
    return checkExitCode(doc);
  },
});

export function describeCheck(doc: CheckDocument): string[] {
  const lines: string[] = [];
  for (const r of doc.repositories) {
    const what = r.read_data === undefined ? "structure" : `structure and data (${r.read_data})`;
    lines.push(`repository ${r.repository}: ${what} ${r.ok ? "ok" : "FAILED"}`);
    for (const e of r.errors) lines.push(`  ${e}`);
  }
  for (const s of doc.spot) {
    const of =
      s.snapshot_id === undefined
        ? ""
        : ` backup ${s.snapshot_id.slice(0, 8)} (${s.snapshot_time ?? "?"})`;
    lines.push(
      `spot check of plan ${s.plan} in ${s.repository}${of}: ${s.sampled} of ${s.files_in_backup} files, ` +
        `${s.matched} identical, ${s.mismatches.length} mismatched, ${s.changed.length} changed since the backup${s.ok ? "" : " — FAILED"}`,
    );
    for (const m of s.mismatches) lines.push(`  MISMATCH ${m.path}: ${m.problems.join(", ")}`);
    for (const c of s.changed) lines.push(`  changed  ${c.path}: ${c.problems.join(", ")}`);
    for (const e of s.errors) lines.push(`  error: ${e}`);
  }
  for (const e of doc.errors) lines.push(`error: ${e}`);
  lines.push(doc.ok ? "check passed" : "check FAILED");
  return lines;
}
