import { useCallback, useEffect, useState } from "preact/hooks";
import { api, ApiError } from "../api.js";
import { phaseOf, ProgressView } from "../components/Progress.js";
import { StatusBadge } from "../components/Status.js";
import { bytes, duration, str, when } from "../format.js";
// The CLI's words for what a replication target sent (a pure function, bundled into the page).
import { replicatedText } from "../../../src/report/format.js";
import { useLiveRuns } from "../live.js";
import { href } from "../router.js";
import type { RunDetail, WireEvent } from "../types.js";

/** One line of a run's timeline, in words. */
function describe(e: WireEvent): string {
  switch (e.type) {
    case "start":
      return `started: ${(e["sources"] as string[] | undefined)?.join(", ") ?? ""}`;
    case "snapshots":
      return `snapshots taken in ${str(e["took_ms"])} ms, skew ${str(e["skew_ms"])} ms`;
    case "backup_start":
      return `backing up to ${str(e["repository"])}`;
    case "summary": {
      // A replication target counts no files: it says what it sent.
      const sent = e["replicated"] as { parent: string | null }[] | undefined;
      if (sent)
        return `${str(e["repository"])}: snapshot ${str(e["snapshot_id"])}, ${replicatedText(sent)} in ${duration(e["duration_s"] as number)}`;
      return `${str(e["repository"])}: snapshot ${str(e["snapshot_id"]).slice(0, 8)}, ${str(e["files_new"])} new, ${str(e["files_changed"])} changed, ${str(e["files_unmodified"])} unmodified, ${bytes(e["data_added"] as number)} added in ${duration(e["duration_s"] as number)}`;
    }
    case "warning":
      return `warning: ${str(e["message"])}`;
    case "error":
      return `error: ${str(e["message"])}`;
    case "result": {
      const parts = [`finished: ${str(e["status"])}`];
      const ret = e["retention"] as Record<string, unknown> | undefined;
      if (ret)
        parts.push(
          `retention: ${str(ret["removed"])} removed, ${str(ret["kept"])} kept${ret["error"] ? ` (${str(ret["error"])})` : ""}`,
        );
      const chk = e["check"] as Record<string, unknown> | undefined;
      if (chk) parts.push(`check: ${chk["ok"] ? "ok" : `failed ${str(chk["error"] ?? "")}`}`);
      if (e["error"]) parts.push(str(e["error"]));
      return parts.join("; ");
    }
    default:
      return e.type.replace(/_/g, " ");
  }
}

export function RunPage({ id, admin }: { id: string; admin: boolean }) {
  const [run, setRun] = useState<RunDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(() => {
    api
      .get<RunDetail>(`api/runs/${encodeURIComponent(id)}`)
      .then(setRun, (e: Error) => setError(e.message));
  }, [id]);
  useEffect(load, [load]);
  const live = useLiveRuns(run?.plan, (e) => {
    if (e.run_id === id) load();
  }).find((r) => r.run_id === id);

  if (error) return <p class="error">{error}</p>;
  if (!run) return <p class="muted">Loading…</p>;
  const events = [...run.events, ...(live?.events ?? []).filter((e) => e.type !== "progress")];
  const runningNow = (run.status === "running" || run.status === "queued") && !live?.done;
  const cancel = () => {
    api.post(`api/runs/${encodeURIComponent(id)}/cancel`).catch((e: unknown) => {
      setError(e instanceof ApiError ? e.message : String(e));
    });
  };
  return (
    <>
      <div class="row">
        <h1>
          Run <code>{run.run_id}</code>
        </h1>
        <StatusBadge status={live?.status ?? run.status} />
      </div>
      <p>
        Plan <a href={href("plans", run.plan)}>{run.plan}</a> · started {when(run.started_at)}
        {run.ended_at ? ` · ended ${when(run.ended_at)}` : ""}
        {run.started_by ? ` · by ${run.started_by}` : ""}
      </p>
      {run.error && <p class="error">{run.error}</p>}
      {runningNow && admin && (
        <button type="button" class="danger" onClick={cancel}>
          Cancel
        </button>
      )}
      {runningNow && live && (
        <ProgressView
          phase={phaseOf(live.events)}
          repos={[...live.progress.entries()].map(([repository, event]) => ({ repository, event }))}
        />
      )}
      {Object.keys(run.summaries).length > 0 && (
        <table class="list">
          <thead>
            <tr>
              <th>Repository</th>
              <th>New</th>
              <th>Changed</th>
              <th>Unmodified</th>
              <th>Added</th>
              <th>Took</th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(run.summaries).map(([repo, s]) => (
              <tr key={repo} class="summary">
                <td>{repo}</td>
                <td>{s.files_new}</td>
                <td>{s.files_changed}</td>
                <td>{s.files_unmodified}</td>
                <td>{bytes(s.data_added)}</td>
                <td>{duration(s.duration_s)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Timeline</h2>
      <ol class="timeline">
        {events.map((e, i) => (
          <li key={i} class={`t-${e.type}`}>
            {describe(e)}
          </li>
        ))}
      </ol>
      {run.warnings.length > 0 && (
        <>
          <h2>Warnings</h2>
          <ul>
            {run.warnings.map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ul>
        </>
      )}
      {run.log_tail.length > 0 && (
        <details>
          <summary>Log tail</summary>
          <pre class="log">{run.log_tail.join("\n")}</pre>
        </details>
      )}
    </>
  );
}
