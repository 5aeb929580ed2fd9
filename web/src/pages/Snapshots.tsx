import { useEffect, useState } from "preact/hooks";
import { api, ApiError, q } from "../api.js";
import { bytes, when } from "../format.js";
import { go, href } from "../router.js";
import type { Diff, Overwrite, Snapshot, TreeEntry } from "../types.js";

const enc = encodeURIComponent;

function treeUrl(s: Snapshot, path: string): string {
  return `api/snapshots/${enc(s.repository)}/${enc(s.id)}/tree${q({ path })}`;
}
function downloadUrl(s: Snapshot, path: string): string {
  return `api/snapshots/${enc(s.repository)}/${enc(s.id)}/download${q({ path })}`;
}

export function Snapshots({
  plan,
  query,
  admin,
}: {
  plan: string;
  query: URLSearchParams;
  admin: boolean;
}) {
  const [list, setList] = useState<Snapshot[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const selectedKey = query.get("snapshot");
  const compareKey = query.get("compare");
  useEffect(() => {
    api
      .get<Snapshot[]>(`api/plans/${enc(plan)}/snapshots`)
      .then(setList, (e: Error) => setError(e.message));
  }, [plan]);

  if (error) return <p class="error">{error}</p>;
  if (!list) return <p class="muted">Loading snapshots…</p>;
  const key = (s: Snapshot) => `${s.repository}:${s.id}`;
  const selected = list.find((s) => key(s) === selectedKey);
  const compare = list.find((s) => key(s) === compareKey);
  return (
    <>
      <h1>
        Snapshots of <a href={href("plans", plan)}>{plan}</a>
      </h1>
      <p class="muted">
        Backups in every repository, replication targets and restore points on the source, newest
        first. Select one to browse it; pick a second to see what changed.
      </p>
      <table class="list snapshots">
        <thead>
          <tr>
            <th>Time</th>
            <th>Kind</th>
            <th>Where</th>
            <th>Id</th>
            <th>Compare</th>
          </tr>
        </thead>
        <tbody>
          {list.map((s) => (
            <tr
              key={key(s)}
              class={selectedKey === key(s) ? "selected" : ""}
              data-snapshot={s.id}
              data-kind={s.kind}
            >
              <td>
                <a
                  href={href("snapshots", plan, {
                    snapshot: key(s),
                    compare: compareKey ?? undefined,
                  })}
                >
                  {when(s.time)}
                </a>
              </td>
              <td>
                <span class={`kind k-${s.kind}`}>{s.kind}</span>
              </td>
              <td>{s.repository}</td>
              <td>
                <code>{s.short_id}</code>
              </td>
              <td>
                {selected && key(s) !== selectedKey && s.repository === selected.repository && (
                  <a
                    href={href("snapshots", plan, {
                      snapshot: selectedKey ?? undefined,
                      compare: key(s),
                    })}
                  >
                    diff
                  </a>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {list.length === 0 && <p class="muted">No snapshots yet.</p>}
      {selected && compare && <DiffView from={compare} to={selected} />}
      {selected && <Browser key={key(selected)} plan={plan} snapshot={selected} admin={admin} />}
    </>
  );
}

function DiffView({ from, to }: { from: Snapshot; to: Snapshot }) {
  const [diff, setDiff] = useState<Diff | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setDiff(null);
    api
      .get<Diff>(`api/snapshots/${enc(to.repository)}/diff${q({ from: from.id, to: to.id })}`)
      .then(setDiff, (e: Error) => setError(e.message));
  }, [from.id, to.id, to.repository]);
  return (
    <section class="diff">
      <h2>
        What changed from <code>{from.short_id}</code> to <code>{to.short_id}</code>
      </h2>
      {error && <p class="error">{error}</p>}
      {!diff && !error && <p class="muted">Comparing…</p>}
      {diff && (
        <>
          {diff.added.length + diff.removed.length + diff.changed.length === 0 && (
            <p>No differences.</p>
          )}
          {(["added", "removed", "changed"] as const).map((k) =>
            diff[k].length === 0 ? null : (
              <div key={k} class={`d-${k}`}>
                <h3>
                  {k} ({diff[k].length})
                </h3>
                <ul class="paths">
                  {diff[k].slice(0, 1000).map((p) => (
                    <li key={p}>
                      <code>{p}</code>
                    </li>
                  ))}
                </ul>
              </div>
            ),
          )}
        </>
      )}
    </section>
  );
}

/** One directory level at a time: a listing is one request, whatever the snapshot's size. */
function Browser({ plan, snapshot, admin }: { plan: string; snapshot: Snapshot; admin: boolean }) {
  const [path, setPath] = useState<string>(
    snapshot.paths.length === 1 ? (snapshot.paths[0] ?? "/") : "/",
  );
  const [entries, setEntries] = useState<TreeEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [picked, setPicked] = useState<Set<string>>(new Set());

  useEffect(() => {
    setEntries(null);
    setError(null);
    api.get<TreeEntry[] | { entries: TreeEntry[] }>(treeUrl(snapshot, path)).then(
      (r) => setEntries(Array.isArray(r) ? r : r.entries),
      (e: Error) => setError(e.message),
    );
  }, [snapshot, path]);

  const toggle = (p: string) => {
    const next = new Set(picked);
    if (next.has(p)) next.delete(p);
    else next.add(p);
    setPicked(next);
  };
  const parent = path === "/" ? null : path.replace(/\/[^/]+\/?$/, "") || "/";
  return (
    <section class="browser">
      <h2>
        Browse <code>{snapshot.short_id}</code>{" "}
        <small>
          ({snapshot.kind}, {snapshot.repository})
        </small>
      </h2>
      <nav class="crumbs" aria-label="path">
        <code>{path}</code>{" "}
        {parent !== null && (
          <button type="button" class="link" onClick={() => setPath(parent)}>
            ↑ up
          </button>
        )}{" "}
        <a href={downloadUrl(snapshot, path)} download>
          download this directory (tar)
        </a>
      </nav>
      {error && <p class="error">{error}</p>}
      {!entries && !error && <p class="muted">Listing…</p>}
      {entries && (
        <table class="list tree">
          <thead>
            <tr>
              <th>
                <span class="sr">select</span>
              </th>
              <th>Name</th>
              <th>Size</th>
              <th>Modified</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.path} data-path={e.path}>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`select ${e.name}`}
                    checked={picked.has(e.path)}
                    onChange={() => toggle(e.path)}
                  />
                </td>
                <td>
                  {e.type === "dir" ? (
                    <button type="button" class="link" onClick={() => setPath(e.path)}>
                      {e.name}/
                    </button>
                  ) : (
                    e.name
                  )}
                </td>
                <td>{e.type === "dir" ? "" : bytes(e.size)}</td>
                <td>{when(e.mtime)}</td>
                <td>
                  <a
                    href={downloadUrl(snapshot, e.path)}
                    download
                    aria-label={`download ${e.name}`}
                  >
                    download
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {entries?.length === 0 && <p class="muted">Empty directory.</p>}
      {admin && picked.size > 0 && (
        <Restore
          plan={plan}
          snapshot={snapshot}
          paths={[...picked]}
          onDone={() => setPicked(new Set())}
        />
      )}
    </section>
  );
}

interface RestoreResult {
  dry_run: boolean;
  target: string;
  files?: { path: string; action: string }[] | string[];
  restored?: number;
}

function Restore({
  plan,
  snapshot,
  paths,
  onDone,
}: {
  plan: string;
  snapshot: Snapshot;
  paths: string[];
  onDone: () => void;
}) {
  const [mode, setMode] = useState<"new" | "original">("new");
  const [target, setTarget] = useState(`/var/tmp/snapback-restore-${snapshot.short_id}`);
  const [overwrite, setOverwrite] = useState<Overwrite>("never");
  const [preview, setPreview] = useState<RestoreResult | null>(null);
  const [result, setResult] = useState<RestoreResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const send = async (dryRun: boolean) => {
    setBusy(true);
    setError(null);
    try {
      const r = await api.post<RestoreResult>(`api/plans/${enc(plan)}/restore`, {
        repository: snapshot.repository,
        snapshot: snapshot.id,
        paths,
        ...(mode === "new" ? { target } : { in_place: true }),
        overwrite,
        dry_run: dryRun,
      });
      if (dryRun) setPreview(r);
      else {
        setResult(r);
        setPreview(null);
      }
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="restore" onSubmit={(e) => e.preventDefault()}>
      <h3>Restore {paths.length} selected</h3>
      <ul class="paths">
        {paths.map((p) => (
          <li key={p}>
            <code>{p}</code>
          </li>
        ))}
      </ul>
      <fieldset>
        <legend>Where</legend>
        <label>
          <input
            type="radio"
            name="where"
            checked={mode === "new"}
            onChange={() => setMode("new")}
          />{" "}
          into a new directory{" "}
          <input
            name="target"
            value={target}
            disabled={mode !== "new"}
            onInput={(e) => setTarget(e.currentTarget.value)}
            aria-label="target directory"
          />
        </label>
        <label>
          <input
            type="radio"
            name="where"
            checked={mode === "original"}
            onChange={() => setMode("original")}
          />{" "}
          to the original location
        </label>
      </fieldset>
      <label>
        Existing files{" "}
        <select
          name="overwrite"
          value={overwrite}
          onChange={(e) => setOverwrite(e.currentTarget.value as Overwrite)}
        >
          <option value="never">never overwrite</option>
          <option value="if-newer">overwrite if the backup is newer</option>
          <option value="always">always overwrite</option>
        </select>
      </label>
      <div class="actions">
        <button type="button" class="secondary" disabled={busy} onClick={() => void send(true)}>
          Preview (dry run)
        </button>
        <button type="button" disabled={busy || !preview} onClick={() => void send(false)}>
          Restore
        </button>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {preview && (
        <div class="preview">
          <p>
            Would write into <code>{preview.target}</code>:
          </p>
          <ul class="paths">
            {(preview.files ?? []).slice(0, 500).map((f) => {
              const item = typeof f === "string" ? { path: f, action: "write" } : f;
              return (
                <li key={item.path}>
                  <code>{item.path}</code> <small>{item.action}</small>
                </li>
              );
            })}
          </ul>
        </div>
      )}
      {result && (
        <p class="ok" role="status">
          Restored into <code>{result.target}</code>
          {result.restored !== undefined ? ` (${result.restored} files)` : ""}.{" "}
          <button
            type="button"
            class="link"
            onClick={() => {
              onDone();
              go(href("snapshots", plan));
            }}
          >
            done
          </button>
        </p>
      )}
    </form>
  );
}
