import { useCallback, useEffect, useState } from "preact/hooks";
import { api } from "../api.js";
import { DayStrip, StatusBadge } from "../components/Status.js";
import { ago, bytes, percent } from "../format.js";
import { planStatus, useLiveRuns } from "../live.js";
import { href } from "../router.js";
import type { Plan } from "../types.js";

export function Dashboard() {
  const [plans, setPlans] = useState<Plan[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(() => {
    api.get<Plan[]>("api/plans").then(setPlans, (e: Error) => setError(e.message));
  }, []);
  useEffect(load, [load]);
  const live = useLiveRuns(undefined, load);

  if (error) return <p class="error">{error}</p>;
  if (!plans) return <p class="muted">Loading plans…</p>;
  const failed = plans.filter(
    (p) => p.last_run?.status === "failed" || p.last_run?.status === "partial",
  );
  const overdue = plans.filter((p) => p.overdue);
  return (
    <>
      <h1>Plans</h1>
      {(failed.length > 0 || overdue.length > 0) && (
        <div class="banner bad" role="alert">
          {failed.length > 0 && (
            <p>Last run not successful: {failed.map((p) => p.name).join(", ")}</p>
          )}
          {overdue.length > 0 && <p>Overdue: {overdue.map((p) => p.name).join(", ")}</p>}
        </div>
      )}
      {plans.length === 0 && <p class="muted">No plans in the configuration.</p>}
      <ul class="cards">
        {plans.map((p) => {
          const running = live.find((r) => r.plan === p.name && !r.done);
          const prog = running ? [...running.progress.values()][0] : undefined;
          return (
            <li class="card plan" key={p.name} data-plan={p.name}>
              <div class="row">
                <h2>
                  <a href={href("plans", p.name)}>{p.name}</a>
                </h2>
                <StatusBadge
                  status={planStatus(
                    p,
                    live.filter((r) => r.plan === p.name),
                  )}
                />
              </div>
              <dl class="facts">
                <dt>Last run</dt>
                <dd>{p.last_run ? ago(p.last_run.time) : "never"}</dd>
                <dt>Next run</dt>
                <dd>{p.next_run ? ago(p.next_run) : p.schedule ? p.schedule : "not scheduled"}</dd>
                <dt>Protected</dt>
                <dd>{bytes(p.bytes_protected)}</dd>
              </dl>
              {prog && (
                <progress
                  max={1}
                  value={Number(prog["percent_done"]) || 0}
                  title={percent(prog["percent_done"])}
                />
              )}
              {p.days && <DayStrip days={p.days} />}
            </li>
          );
        })}
      </ul>
    </>
  );
}
