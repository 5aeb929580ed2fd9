import { useEffect, useState } from "preact/hooks";
import { api, ApiError, q } from "../api.js";
import { bytes, when } from "../format.js";
import { go, href } from "../router.js";
import type { Diff, Overwrite, RestorePreview, Snapshot, TreeEntry } from "../types.js";

const enc = encodeURIComponent;

/** A restore point is read straight from the source's filesystem; a backup through restic. */
function treeUrl(s: Snapshot, path: string): string {
  return s.kind === "restore_point"
    ? `api/snapshots/local/${enc(s.run_id ?? s.id)}/tree${q({ path })}`
    : `api/snapshots/${enc(s.repository ?? "")}/${enc(s.id)}/tree${q({ path })}`;
}
function downloadUrl(s: Snapshot, path: string): string {
  return `api/snapshots/${enc(s.repository ?? "")}/${enc(s.id)}/download${q({ path })}`;
}
const KIND: Record<string, string> = {
  backup: "backup",
  dump: "database dump",
  replica: "replica",
  restore_point: "restore point",
};
/** What the browser works on: restic backups, and restore points on the source. */
function browsable(s: Snapshot): boolean {
  return s.kind === "backup" || s.kind === "restore_point";
}
const keyOf = (s: Snapshot) => `${s.repository ?? "local"}:${s.run_id ?? s.id}`;

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
  const selectedKey = query.get("snapshot") ?? undefined;
  const compareKey = query.get("compare") ?? undefined;
  useEffect(() => {
    api
      .get<Snapshot[]>(`api/plans/${enc(plan)}/snapshots`)
      .then(setList, (e: Error) => setError(e.message));
  }, [plan]);

  if (error) return <p class="error">{error}</p>;
  if (!list) return <p class="muted">Loading snapshots…</p>;
  const selected = list.find((s) => keyOf(s) === selectedKey);
  const compare = list.find((s) => keyOf(s) === compareKey);
  return (
    <>
      <h1>
        Snapshots of <a href={href("plans", plan)}>{plan}</a>
      </h1>
      <p class="muted">
        Backups in every repository, database dumps, replication targets and restore points on the
        source, newest first. Open one to browse it; with one open, “diff” on another shows what
        changed.
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
              key={keyOf(s)}
              class={selectedKey === keyOf(s) ? "selected" : ""}
              data-snapshot={s.id}
              data-kind={s.kind}
            >
              <td>
                {browsable(s) ? (
                  <a href={href("snapshots", plan, { snapshot: keyOf(s), compare: compareKey })}>
                    {when(s.time)}
                  </a>
                ) : (
                  when(s.time)
                )}
              </td>
              <td>
                <span class={`kind k-${s.kind}`}>
                  {KIND[s.kind] ?? s.kind}
                  {s.database ? ` ${s.database}` : ""}
                </span>
              </td>
              <td>{s.repository ?? "on the source"}</td>
              <td>
                <code>{s.short_id}</code>
              </td>
              <td>
                {selected &&
                  keyOf(s) !== selectedKey &&
                  s.kind === "backup" &&
                  selected.kind === "backup" &&
                  s.repository === selected.repository && (
                    <a href={href("snapshots", plan, { snapshot: selectedKey, compare: keyOf(s) })}>
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
      {selected && <Browser key={keyOf(selected)} plan={plan} snapshot={selected} admin={admin} />}
    </>
  );
}

const GROUPS = [
  { key: "added", mods: ["+"] },
  { key: "removed", mods: ["-"] },
  { key: "changed", mods: ["M", "T", "U", "?"] },
] as const;

function DiffView({ from, to }: { from: Snapshot; to: Snapshot }) {
  const [diff, setDiff] = useState<Diff | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setDiff(null);
    api
      .get<Diff>(`api/snapshots/${enc(to.repository ?? "")}/diff${q({ from: from.id, to: to.id })}`)
      .then(setDiff, (e: Error) => setError(e.message));
  }, [from.id, to.id, to.repository]);
  // A directory whose only change is its contents is noise next to the files themselves.
  const changes = diff?.changes.filter((c) => !(c.modifier === "U" && c.path.endsWith("/")));
  return (
    <section class="diff">
      <h2>
        What changed from <code>{from.short_id}</code> to <code>{to.short_id}</code>
      </h2>
      {error && <p class="error">{error}</p>}
      {!diff && !error && <p class="muted">Comparing…</p>}
      {changes?.length === 0 && <p>No differences.</p>}
      {changes &&
        GROUPS.map((g) => {
          const paths = changes
            .filter((c) => (g.mods as readonly string[]).includes(c.modifier))
            .map((c) => c.path);
          return paths.length === 0 ? null : (
            <div key={g.key} class={`d-${g.key}`}>
              <h3>
                {g.key} ({paths.length})
              </h3>
              <ul class="paths">
                {paths.slice(0, 1000).map((p) => (
                  <li key={p}>
                    <code>{p}</code>
                  </li>
                ))}
              </ul>
            </div>
          );
        })}
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
  const isBackup = snapshot.kind === "backup";

  useEffect(() => {
    setEntries(null);
    setError(null);
    api
      .get<TreeEntry[]>(treeUrl(snapshot, path))
      .then(setEntries, (e: Error) => setError(e.message));
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
          ({KIND[snapshot.kind]}, {snapshot.repository ?? "read from the source's filesystem"})
        </small>
      </h2>
      <nav class="crumbs" aria-label="path">
        <code>{path}</code>{" "}
        {parent !== null && (
          <button type="button" class="link" onClick={() => setPath(parent)}>
            ↑ up
          </button>
        )}{" "}
        {isBackup && (
          <a href={downloadUrl(snapshot, path)} download>
            download this directory (tar)
          </a>
        )}
      </nav>
      {error && <p class="error">{error}</p>}
      {!entries && !error && <p class="muted">Listing…</p>}
      {entries && (
        <table class="list tree">
          <thead>
            <tr>
              <th>{isBackup && <span class="sr">select</span>}</th>
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
                  {isBackup && (
                    <input
                      type="checkbox"
                      aria-label={`select ${e.name}`}
                      checked={picked.has(e.path)}
                      onChange={() => toggle(e.path)}
                    />
                  )}
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
                  {isBackup && (
                    <a
                      href={downloadUrl(snapshot, e.path)}
                      download
                      aria-label={`download ${e.name}`}
                    >
                      download
                    </a>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {entries?.length === 0 && <p class="muted">Empty directory.</p>}
      {admin && picked.size > 0 && isBackup && (
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
  const [preview, setPreview] = useState<RestorePreview | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const send = async (dryRun: boolean) => {
    setBusy(true);
    setError(null);
    const body = {
      ...(snapshot.repository ? { repository: snapshot.repository } : {}),
      snapshot: snapshot.id,
      paths,
      // "/" restores to the original location.
      target: mode === "new" ? target : "/",
      overwrite,
      dry_run: dryRun,
    };
    try {
      if (dryRun)
        setPreview(await api.post<RestorePreview>(`api/plans/${enc(plan)}/restore`, body));
      else {
        await api.post(`api/plans/${enc(plan)}/restore`, body);
        setDone(body.target);
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
            Would write {preview.files.length}
            {preview.truncated ? "+" : ""} files:
          </p>
          <ul class="paths">
            {preview.files.slice(0, 500).map((f) => (
              <li key={f.path} class={`a-${f.action}`}>
                <code>{f.to}</code> <small>{f.action}</small>
              </li>
            ))}
          </ul>
        </div>
      )}
      {done && (
        <p class="ok" role="status">
          Restored into <code>{done}</code>.{" "}
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
