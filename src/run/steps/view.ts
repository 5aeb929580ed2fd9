import type { CommandWrapper, RepositoryEngine } from "../../engine/types.js";
import { probeRestic } from "../../engine/restic/index.js";
import { UsageError } from "../../errors.js";
import { collectIgnorePatterns, writeExcludeFile } from "../../ignore/index.js";
import type { TakenSnapshot, ViewBind } from "../../core/snapshot.js";
import { directWrapper, viewWrapper } from "../../view/wrapper.js";
import type { RunPlan } from "../../core/plan.js";
import { snapshotDeviceIds, type DeviceIds } from "../engine-report.js";
import type { RunState, RunStep } from "./types.js";

export interface View {
  /** Runs a command in the view: the snapshots bound over the sources' original paths. */
  wrap: CommandWrapper;
  /** With `ignore_file`: the exclude file the engine reads. */
  excludeFile: string | undefined;
  /** The device id of each frozen path, for the churn warning of restic < 0.17. */
  devices: DeviceIds;
}

/**
 * How the engine will see the snapshots: bound at the sources' original paths in a private
 * mount namespace (made per command by the wrapper, gone with it), writable only where the
 * engines and the run write; and the ignore files read from the snapshots.
 */
export const view: RunStep<
  RunState & { ready: readonly RepositoryEngine[]; taken: readonly TakenSnapshot[] },
  View
> = {
  name: "view",
  async run({ p, ready, taken, warn }) {
    const binds = taken.flatMap((t) => t.binds).sort((a, b) => depth(a.to) - depth(b.to));
    const writable = unique([p.tmpDir, ...ready.flatMap((e) => e.writableDirs())]);
    const wrap = binds.length > 0 ? viewWrapper({ binds, writable }) : directWrapper;
    const excludeFile = await writeRunExcludes(p, binds, warn);
    return { wrap, excludeFile, devices: await snapshotDeviceIds(taken) };
  },
  describe: ({ dry }) => {
    const f = dry.exclude_file;
    if (!f) return [];
    return [
      `  exclude file ${f.path} (${f.patterns.length} patterns; ignore files read from the live sources here, from the snapshots in the run):`,
      ...f.patterns.map((pattern) => `    ${pattern}`),
      ...f.ignore_files_problems.map((problem) => `  warning: ${problem}`),
    ];
  },
};

/**
 * With `ignore_file`, every such file under the sources — read from the snapshots, so at the
 * snapshot instant — becomes exclude patterns in one file in the run's temp dir (live and
 * visible in the view). The plan's own excludes come after them so that an ignore file's `!`
 * can never re-include what the plan or snapback excludes.
 */
async function writeRunExcludes(
  p: RunPlan,
  binds: readonly ViewBind[],
  warn: (m: string) => void,
): Promise<string | undefined> {
  const name = p.plan.ignore_file;
  if (name === undefined) return undefined;
  const roots = [
    // Snapshots are frozen: their rules are resolved to exact paths on the walk.
    ...binds.map((b) => ({ readFrom: b.from, original: b.to, frozen: true })),
    ...p.notPointInTime.map((s) => ({ readFrom: s, original: s })),
  ];
  const restic = await probeRestic().catch(() => undefined);
  const found = await collectIgnorePatterns(
    roots,
    name,
    restic ? { resticVersion: restic.version } : {},
  );
  for (const w of found.warnings) warn(w);
  if (found.errors.length > 0) {
    throw new UsageError(`plans.${p.planName}.ignore_file: ${found.errors.join("; ")}`);
  }
  return writeExcludeFile(p.tmpDir, [...found.patterns, ...p.plan.exclude, ...p.internalExcludes]);
}

function depth(path: string): number {
  return path === "/" ? 0 : path.split("/").length;
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}
