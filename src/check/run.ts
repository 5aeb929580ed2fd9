import type { Config } from "../config/schema.js";
import type { RunPlan } from "../core/plan.js";
import { openEngines } from "../engine/open.js";
import type { RepositoryEngine } from "../engine/types.js";
import { errorMessage, SnapbackError } from "../errors.js";
import { withFreshSnapshot } from "./fresh.js";
import { lockPlanForMaintenance } from "./maintenance-lock.js";
import { spotCheck, type SpotReport } from "./spot.js";
import { writeCheckState } from "./state.js";

export interface RepositoryCheckJson {
  repository: string;
  ok: boolean;
  read_data?: string;
  errors: string[];
  /** Set when the repository could not be checked at all: 2 wrong password or missing repository, 4 locked (unreachable: 1). */
  exit_code?: number;
}

/** The `check --json` document. */
export interface CheckDocument {
  ok: boolean;
  plans: string[];
  repositories: RepositoryCheckJson[];
  spot: SpotReport[];
  /** Problems that stopped a plan's check as a whole (no snapshot, lock, …). */
  errors: string[];
}

export interface CheckOptions {
  /** Plans a run of a plan for `spot` (src/run/plan.ts `planRun`, which sits above check). */
  planRun: (planName: string, runId: string) => Promise<RunPlan>;
  readData?: string;
  spot?: number;
  signal: AbortSignal;
  onWarning: (message: string) => void;
}

/**
 * `snapback check`: each repository of the named plans once (structure, and `readData` of its
 * pack data), then for `spot` the plan's newest backup against a fresh snapshot of its
 * sources. A plan whose repositories all pass has its check time recorded.
 */
export async function checkPlans(
  config: Config,
  planNames: string[],
  opts: CheckOptions,
): Promise<CheckDocument> {
  const doc: CheckDocument = { ok: true, plans: planNames, repositories: [], spot: [], errors: [] };
  const checked = new Map<string, RepositoryCheckJson>();
  // Secrets first, for every plan: a config problem stops the command before anything runs.
  const enginesOf = new Map<string, RepositoryEngine[]>();
  for (const planName of planNames)
    enginesOf.set(planName, await openEngines(config, planName, { resolveSecrets: true }));
  for (const planName of planNames) {
    if (opts.signal.aborted) break;
    let planOk = true;
    try {
      const engines = enginesOf.get(planName) ?? [];
      await using locks = await lockPlanForMaintenance(
        config.state_dir,
        planName,
        engines.map((e) => e.repoName),
        opts.signal,
        opts.onWarning,
      );
      void locks;
      for (const engine of engines) {
        let result = checked.get(engine.repoName);
        if (!result) {
          result = await checkOne(engine, opts);
          checked.set(engine.repoName, result);
          doc.repositories.push(result);
        }
        planOk &&= result.ok;
      }
      if (opts.spot !== undefined) {
        const count = opts.spot;
        const reports = await withFreshSnapshot(
          opts.planRun,
          planName,
          opts.signal,
          opts.onWarning,
          async (fresh) => {
            for (const s of fresh.notPointInTime)
              opts.onWarning(
                `${s} is read live for the spot check: files changing now show up as changed`,
              );
            const out: SpotReport[] = [];
            for (const engine of engines) {
              out.push(
                await spotCheck(engine, {
                  planName,
                  host: fresh.host,
                  count,
                  resolve: fresh.resolve,
                  tmpDir: fresh.tmpDir,
                  signal: opts.signal,
                  onWarning: opts.onWarning,
                }),
              );
            }
            return out;
          },
        );
        doc.spot.push(...reports);
        planOk &&= reports.every((r) => r.ok);
      }
      if (planOk) {
        await writeCheckState(config.state_dir, planName, {
          last_ok: new Date().toISOString(),
          ...(opts.readData === undefined ? {} : { read_data: opts.readData }),
          ...(opts.spot === undefined ? {} : { spot: opts.spot }),
        });
      }
    } catch (e) {
      if (opts.signal.aborted) throw e;
      doc.errors.push(`plan ${planName}: ${errorMessage(e)}`);
      planOk = false;
    }
    doc.ok &&= planOk;
  }
  return doc;
}

async function checkOne(
  engine: RepositoryEngine,
  opts: CheckOptions,
): Promise<RepositoryCheckJson> {
  const base = {
    repository: engine.repoName,
    ...(opts.readData === undefined ? {} : { read_data: opts.readData }),
  };
  try {
    const r = await engine.check({
      ...(opts.readData === undefined ? {} : { readData: opts.readData }),
      signal: opts.signal,
    });
    return { ...base, ok: r.ok, errors: r.errors };
  } catch (e) {
    if (opts.signal.aborted) throw e;
    return {
      ...base,
      ok: false,
      errors: [errorMessage(e)],
      exit_code: e instanceof SnapbackError ? e.exitCode : 1,
    };
  }
}

/**
 * The exit status of a check: 0 when it passed; a findings-free failure to even open the
 * repositories keeps its own status (2 wrong password or missing repository, 4 locked) when all agree;
 * anything else — damage found, a mismatch — is 1.
 */
export function checkExitCode(doc: CheckDocument): number {
  if (doc.ok) return 0;
  const findings =
    doc.errors.length > 0 ||
    doc.spot.some((s) => !s.ok) ||
    doc.repositories.some((r) => !r.ok && r.exit_code === undefined);
  const codes = doc.repositories.flatMap((r) => (r.exit_code === undefined ? [] : [r.exit_code]));
  if (findings || codes.length === 0) return 1;
  return codes.every((c) => c === codes[0]) ? (codes[0] ?? 1) : 1;
}
