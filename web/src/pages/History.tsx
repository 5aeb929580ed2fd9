import { useCallback, useEffect, useState } from "preact/hooks";
import { api, q } from "../api.js";
import { LineChart } from "../components/Chart.js";
import { StatusBadge } from "../components/Status.js";
import { bytes, duration, when } from "../format.js";
import { useLiveRuns } from "../live.js";
import { go, href } from "../router.js";
import type { Run } from "../types.js";

const PAGE = 50;
const STATUSES = ["", "success", "partial", "failed", "interrupted", "running"];

function totals(r: Run) {
  const s = Object.values(r.summaries);
  return {
    added: s.reduce((a, x) => a + x.data_added, 0),
    changed: s.reduce((a, x) => a + x.files_new + x.files_changed, 0),
  };
}

function seconds(r: Run): number | null {
  if (!r.started_at || !r.ended_at) return null;
  return (new Date(r.ended_at).getTime() - new Date(r.started_at).getTime()) / 1000;
}

/** Runs newest first, one server page at a time (the history may hold years of runs). */
export function History({ query }: { query: URLSearchParams }) {
  const plan = query.get("plan") ?? undefined;
  const status = query.get("status") ?? undefined;
  const before = query.get("before") ?? undefined;
  const [runs, setRuns] = useState<Run[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(() => {
    api
      .get<Run[]>(`api/runs${q({ plan, status, before, limit: PAGE })}`)
      .then(setRuns, (e: Error) => setError(e.message));
  }, [plan, status, before]);
  useEffect(load, [load]);
  useLiveRuns(plan, load);

  const filter = (k: string, v: string) => {
    const next: Record<string, string | undefined> = { plan, status, [k]: v || undefined };
    go(href("history", next));
  };
  if (error) return <p class="error">{error}</p>;
  if (!runs) return <p class="muted">Loading history…</p>;
  const done = runs
    .filter((r) => r.ended_at)
    .slice()
    .reverse();
  const last = runs.at(-1);
  return (
    <>
      <h1>History{plan ? ` of ${plan}` : ""}</h1>
      <div class="filters">
        <label>
          Status{" "}
          <select value={status ?? ""} onChange={(e) => filter("status", e.currentTarget.value)}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s || "any"}
              </option>
            ))}
          </select>
        </label>
        {plan && (
          <button type="button" class="link" onClick={() => filter("plan", "")}>
            all plans
          </button>
        )}
      </div>
      <div class="charts">
        <LineChart
          title="Duration"
          format={duration}
          points={done.flatMap((r) => {
            const s = seconds(r);
            return s === null ? [] : [{ x: new Date(r.ended_at ?? 0).getTime(), y: s }];
          })}
        />
        <LineChart
          title="Data added"
          format={bytes}
          points={done.map((r) => ({ x: new Date(r.ended_at ?? 0).getTime(), y: totals(r).added }))}
        />
        <LineChart
          title="Files new or changed"
          format={(v) => String(Math.round(v))}
          points={done.map((r) => ({
            x: new Date(r.ended_at ?? 0).getTime(),
            y: totals(r).changed,
          }))}
        />
      </div>
      <table class="list runs">
        <thead>
          <tr>
            <th>Started</th>
            <th>Plan</th>
            <th>Status</th>
            <th>Duration</th>
            <th>Data added</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.run_id} data-run={r.run_id}>
              <td>
                <a href={href("runs", r.run_id)}>{when(r.started_at)}</a>
              </td>
              <td>{r.plan}</td>
              <td>
                <StatusBadge status={r.status} />
              </td>
              <td>{duration(seconds(r))}</td>
              <td>{bytes(totals(r).added)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {runs.length === 0 && <p class="muted">No runs.</p>}
      <p class="pager">
        {before && <a href={href("history", { plan, status })}>Newest</a>}{" "}
        {runs.length === PAGE && last && (
          <a href={href("history", { plan, status, before: last.run_id })}>Older runs →</a>
        )}
      </p>
    </>
  );
}
