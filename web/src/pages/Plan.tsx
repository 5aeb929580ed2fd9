import { useCallback, useEffect, useState } from "preact/hooks";
import { api, ApiError } from "../api.js";
import { phaseOf, ProgressView } from "../components/Progress.js";
import { StatusBadge } from "../components/Status.js";
import { ago, str, when } from "../format.js";
import { planStatus, useLiveRuns } from "../live.js";
import { go, href } from "../router.js";
import type { CheckReport, Plan, PruneReport } from "../types.js";

interface ConfigView {
  config: {
    plans: Record<string, Record<string, unknown>>;
    repositories: Record<string, Record<string, unknown>>;
  };
  problems: string[];
}

export function PlanPage({ name, admin }: { name: string; admin: boolean }) {
  const [plan, setPlan] = useState<Plan | null>(null);
  const [config, setConfig] = useState<ConfigView | null>(null);
  const [message, setMessage] = useState<{ kind: "ok" | "error"; text: string } | null>(null);
  const [prune, setPrune] = useState<PruneReport[] | null>(null);
  const [check, setCheck] = useState<CheckReport | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const load = useCallback(() => {
    api.get<Plan[]>("api/plans").then(
      (all) => setPlan(all.find((p) => p.name === name) ?? null),
      (e: Error) => setMessage({ kind: "error", text: e.message }),
    );
  }, [name]);
  useEffect(() => {
    load();
    api.get<ConfigView>("api/config").then(setConfig, () => setConfig(null));
  }, [load]);
  const live = useLiveRuns(name, load);
  const running = live.filter((r) => !r.done).at(-1);

  const act = async (label: string, f: () => Promise<void>) => {
    setBusy(label);
    setMessage(null);
    try {
      await f();
    } catch (e) {
      setMessage({ kind: "error", text: e instanceof ApiError ? e.message : String(e) });
    } finally {
      setBusy(null);
    }
  };
  const backup = (dryRun: boolean) =>
    act(dryRun ? "dry-run" : "backup", async () => {
      const r = await api.post<{ run_id: string }>(`api/plans/${encodeURIComponent(name)}/backup`, {
        dry_run: dryRun,
      });
      setMessage({
        kind: "ok",
        text: `${dryRun ? "dry run" : "backup"} started (run ${r.run_id})`,
      });
      if (dryRun) go(href("runs", r.run_id));
    });
  const cancel = (runId: string) =>
    act("cancel", async () => {
      await api.post(`api/runs/${encodeURIComponent(runId)}/cancel`);
      setMessage({ kind: "ok", text: "cancelling…" });
    });
  const runPrune = (dryRun: boolean) =>
    act(dryRun ? "prune-dry" : "prune", async () => {
      const r = await api.post<{ ok: boolean; result: { plans: PruneReport[] } | null }>(
        `api/plans/${encodeURIComponent(name)}/prune`,
        { dry_run: dryRun },
      );
      setPrune(r.result?.plans ?? []);
    });
  const runCheck = () =>
    act("check", async () => {
      setCheck(await api.post<CheckReport>(`api/plans/${encodeURIComponent(name)}/check`, {}));
    });

  if (!plan) return message ? <p class="error">{message.text}</p> : <p class="muted">Loading…</p>;
  const pc = config?.config.plans[name];
  return (
    <>
      <div class="row">
        <h1>{name}</h1>
        <StatusBadge status={planStatus(plan, live)} />
      </div>
      <p class="links">
        <a href={href("history", { plan: name })}>History</a> ·{" "}
        <a href={href("snapshots", name)}>Snapshots</a>
      </p>
      {message && (
        <p
          class={message.kind === "error" ? "error" : "ok"}
          role={message.kind === "error" ? "alert" : "status"}
        >
          {message.text}
        </p>
      )}
      {admin && (
        <div class="actions">
          <button
            type="button"
            onClick={() => void backup(false)}
            disabled={busy !== null || running !== undefined}
          >
            Back up now
          </button>
          <button
            type="button"
            class="secondary"
            onClick={() => void backup(true)}
            disabled={busy !== null}
          >
            Dry run
          </button>
          {running && (
            <button
              type="button"
              class="danger"
              onClick={() => void cancel(running.run_id)}
              disabled={busy !== null}
            >
              Cancel
            </button>
          )}
          <button
            type="button"
            class="secondary"
            onClick={() => void runCheck()}
            disabled={busy !== null}
          >
            Check
          </button>
          <button
            type="button"
            class="secondary"
            onClick={() => void runPrune(true)}
            disabled={busy !== null}
          >
            Prune (dry run)
          </button>
        </div>
      )}
      {running && (
        <section>
          <h2>
            Running <a href={href("runs", running.run_id)}>{running.run_id}</a>
          </h2>
          <ProgressView
            phase={phaseOf(running.events)}
            repos={[...running.progress.entries()].map(([repository, event]) => ({
              repository,
              event,
            }))}
          />
        </section>
      )}
      <section>
        <h2>Schedule</h2>
        <dl class="facts">
          <dt>Schedule</dt>
          <dd>{plan.schedule ?? "none"}</dd>
          <dt>Last run</dt>
          <dd>
            {plan.last_run ? (
              <a href={href("runs", plan.last_run.run_id)}>
                {plan.last_run.status}, {when(plan.last_run.time)}
              </a>
            ) : (
              "never"
            )}
          </dd>
          <dt>Next run</dt>
          <dd>{plan.next_run ? `${when(plan.next_run)} (${ago(plan.next_run)})` : "–"}</dd>
        </dl>
      </section>
      <section>
        <h2>Configuration</h2>
        {config && config.problems.length > 0 && (
          <div class="banner bad">
            <p>Validation problems:</p>
            <ul>
              {config.problems.map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ul>
          </div>
        )}
        <dl class="facts">
          <dt>Sources</dt>
          <dd>
            <ul class="plain">
              {plan.sources.map((s) => (
                <li key={s}>
                  <code>{s}</code>
                </li>
              ))}
            </ul>
          </dd>
          <dt>Repositories</dt>
          <dd>
            <ul class="plain">
              {plan.repositories.map((r) => (
                <li key={r}>
                  <code>{r}</code>{" "}
                  {config?.config.repositories[r] ? (
                    <small>
                      {str(config.config.repositories[r]["engine"])} ·{" "}
                      {str(
                        config.config.repositories[r]["url"] ??
                          config.config.repositories[r]["path"],
                      )}
                    </small>
                  ) : null}
                </li>
              ))}
            </ul>
          </dd>
        </dl>
        {pc && (
          <details>
            <summary>Retention, hooks and everything else (secrets redacted)</summary>
            <pre class="config">{JSON.stringify(pc, null, 2)}</pre>
          </details>
        )}
      </section>
      {check && (
        <section>
          <h2>Check</h2>
          <p class={check.ok ? "ok" : "error"}>
            {check.ok ? "repository healthy" : "check failed"}
          </p>
          <details>
            <summary>Details</summary>
            <pre>{JSON.stringify(check, null, 2)}</pre>
          </details>
        </section>
      )}
      {prune && (
        <section>
          <h2>Prune {prune[0]?.dry_run ? "(dry run: nothing removed)" : ""}</h2>
          {prune.flatMap((p) =>
            p.repositories.map((r) => (
              <div key={r.repository}>
                <h3>{r.repository}</h3>
                {r.error && <p class="error">{r.error}</p>}
                {r.skipped && <p class="muted">{r.skipped}</p>}
                <table class="list">
                  <thead>
                    <tr>
                      <th>Snapshot</th>
                      <th>Time</th>
                      <th>Verdict</th>
                    </tr>
                  </thead>
                  <tbody>
                    {r.keep.map((s) => (
                      <tr key={s.id}>
                        <td>
                          <code>{s.short_id}</code>
                        </td>
                        <td>{when(s.time)}</td>
                        <td class="ok">keep: {s.reasons.join(", ")}</td>
                      </tr>
                    ))}
                    {r.remove.map((s) => (
                      <tr key={s.id}>
                        <td>
                          <code>{s.short_id}</code>
                        </td>
                        <td>{when(s.time)}</td>
                        <td class="error">remove</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )),
          )}
          {admin && prune[0]?.dry_run && (
            <button
              type="button"
              class="danger"
              onClick={() => void runPrune(false)}
              disabled={busy !== null}
            >
              Prune now
            </button>
          )}
        </section>
      )}
    </>
  );
}
