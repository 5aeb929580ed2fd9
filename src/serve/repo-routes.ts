import { lstat, readdir, realpath } from "node:fs/promises";
import { posix } from "node:path";
import { PassThrough, Readable } from "node:stream";
import type { Hono } from "hono";
import * as z from "../util/zod.js";
import type { Config } from "../config/schema.js";
import { resolveSecrets } from "../config/secrets.js";
import { runRestic, type ResticTarget } from "../engine/restic/command.js";
import { errorMessage } from "../errors.js";
import { registerSecret } from "../log.js";
import { SNAPSHOT_DIR_NAME } from "../snapshot/btrfs/index.js";
import type { AppDeps, Env } from "./app.js";
import { HttpError } from "./app.js";

/** What the repository routes need beyond AppDeps: the CLI as a child process. */
export interface CliRunner {
  cli(
    args: string[],
    signal?: AbortSignal,
  ): Promise<{ exitCode: number | null; doc: unknown; error: string | undefined }>;
}

const snapshotId = z
  .string()
  .regex(/^([0-9a-f]{6,64}|latest)$/, "must be a snapshot id (hex) or latest");

/** An absolute, normalized path: no "..", no "//", no trailing "/" (except "/"). */
const cleanPath = z
  .string()
  .min(1)
  .refine((p) => p.startsWith("/") && posix.normalize(p) === p && (p === "/" || !p.endsWith("/")), {
    message: "must be an absolute path without '..' or a trailing '/'",
  });

export const restoreRequest = z.strictObject({
  snapshot: snapshotId.default("latest"),
  repository: z.string().min(1).optional(),
  paths: z.array(cleanPath).min(1, "must name at least one path"),
  /** A new directory (files land at TARGET/<original path>), or "/" for the original location. */
  target: cleanPath,
  /** if-newer: replace an existing file only when the backup's copy is newer (mtime). */
  overwrite: z.enum(["never", "if-newer", "always"]).default("never"),
  /** List what would be written (and what exists already) instead of restoring. */
  dry_run: z.boolean().default(false),
});

export const pruneRequest = z.strictObject({ dry_run: z.boolean().default(false) });
export const checkRequest = z.strictObject({
  read_data: z.string().min(1).optional(),
  spot: z.int().positive().max(1000).optional(),
});

/** The backup's copy is newer than the file in the target (whole seconds, like the restore). */
function newerInBackup(
  mtime: string | undefined,
  existing: { mtimeMs: number } | undefined,
): boolean {
  if (mtime === undefined || existing === undefined) return true;
  return Math.floor(Date.parse(mtime) / 1000) > Math.floor(existing.mtimeMs / 1000);
}

function within(path: string, root: string): boolean {
  return root === "/" || path === root || path.startsWith(`${root}/`);
}

/** The sources of every plan that writes to `repo`: what may be read from it through the API. */
function readableRoots(config: Config, repo: string): string[] {
  return Object.values(config.plans)
    .filter((p) => p.repositories.includes(repo))
    .flatMap((p) => p.sources);
}

function checkReadable(config: Config, repo: string, path: string, key: string): void {
  // Parents of a source may be browsed down to it; nothing beside it.
  const roots = readableRoots(config, repo);
  if (!roots.some((r) => within(path, r) || within(r, path)))
    throw new HttpError(403, `${key}: "${path}" is not part of what the plans back up to ${repo}`);
}

async function resticTarget(config: Config, repo: string): Promise<ResticTarget> {
  const r = Object.hasOwn(config.repositories, repo) ? config.repositories[repo] : undefined;
  if (!r) throw new HttpError(404, `no repository "${repo}"`);
  if (r.engine !== "restic")
    throw new HttpError(400, `repository "${repo}" uses engine ${r.engine}: browsing needs restic`);
  const secrets = await resolveSecrets(repo, r);
  // Any restic error text goes through the log redactor.
  registerSecret(secrets.password);
  for (const v of Object.values(secrets.env)) registerSecret(v);
  return { repoName: repo, repo: r, secrets };
}

interface LsNode {
  struct_type?: string;
  name?: string;
  type?: string;
  path?: string;
  size?: number;
  mtime?: string;
  mode?: number;
}

async function lsLevel(
  target: ResticTarget,
  id: string,
  path: string,
  cacheDir: string,
  filter: string[] = [],
): Promise<LsNode[]> {
  const nodes: LsNode[] = [];
  await runRestic(target, ["ls", "--json", ...filter, id, path], {
    action: "ls",
    cacheDir,
    onStdoutLine: (line) => {
      try {
        const n = JSON.parse(line) as LsNode;
        if (n.struct_type === "node") nodes.push(n);
      } catch {
        // Not JSON.
      }
    },
  });
  return nodes;
}

interface LocalRow {
  run_id: string;
  source: string | null;
  /** Where the source's files are inside the snapshot. */
  path: string;
}

/**
 * One directory level of a local restore point, read straight from the snapshot (instant).
 * The snapshot is read-only, but symlinks in it may point anywhere: the real path must stay
 * inside the snapshot.
 */
async function readLocalLevel(row: LocalRow, path: string): Promise<Record<string, unknown>[]> {
  const rel = path === row.source ? "" : path.slice((row.source ?? "").length + 1);
  const dir = posix.join(row.path, rel);
  let real: string;
  try {
    real = await realpath(dir);
  } catch {
    throw new HttpError(404, `"${path}" is not in the restore point`);
  }
  const root = await realpath(row.path);
  if (!within(real, root)) throw new HttpError(403, `path: "${path}" leaves the restore point`);
  const entries = await readdir(real, { withFileTypes: true }).catch(() => {
    throw new HttpError(400, `"${path}" is not a directory`);
  });
  const out: Record<string, unknown>[] = [];
  for (const e of entries) {
    // snapback's own snapshot directory is excluded from every backup: not shown here either.
    if (e.name === SNAPSHOT_DIR_NAME) continue;
    const st = await lstat(posix.join(real, e.name)).catch(() => undefined);
    out.push({
      name: e.name,
      path: posix.join(path, e.name),
      type: e.isDirectory()
        ? "dir"
        : e.isSymbolicLink()
          ? "symlink"
          : e.isFile()
            ? "file"
            : "other",
      size: st?.isFile() ? st.size : null,
      mtime: st ? st.mtime.toISOString() : null,
    });
  }
  return out.sort((a, b) => String(a["name"]).localeCompare(String(b["name"])));
}

/**
 * Snapshots, browsing, download, diff, restore, check and prune. Listing, check, prune and
 * restore run the CLI as a child (same code, same secret handling); browsing, download and
 * diff read the repository with restic directly (streamed, never buffered whole).
 */
export function mountRepoRoutes(app: Hono<Env>, deps: AppDeps, cli: CliRunner): void {
  const cacheDir = `${deps.config.state_dir}/cache/restic`;
  const plan = (name: string): string => {
    if (!Object.hasOwn(deps.config.plans, name)) throw new HttpError(404, `no plan "${name}"`);
    return name;
  };
  const childFailure = (
    what: string,
    r: { exitCode: number | null; error: string | undefined },
  ): HttpError =>
    new HttpError(
      r.exitCode === 2 ? 400 : r.exitCode === 4 ? 409 : 500,
      `${what}: ${r.error ?? `exit ${String(r.exitCode)}`}`,
    );
  const audit = (
    user: string,
    action: string,
    target: string,
    detail: Record<string, unknown>,
  ): void => deps.history.addAudit({ at: new Date().toISOString(), user, action, target, detail });

  app.get("/api/plans/:plan/snapshots", async (c) => {
    const name = plan(c.req.param("plan"));
    const limit = z.coerce.number().int().min(1).max(5000).default(500).parse(c.req.query("limit"));
    const [backups, local] = await Promise.all([
      cli.cli(["snapshots", name], c.req.raw.signal),
      cli.cli(["snapshots", name, "--local"], c.req.raw.signal),
    ]);
    if (backups.exitCode !== 0) throw childFailure("snapshots", backups);
    const rows: Record<string, unknown>[] = [];
    for (const s of (backups.doc as Record<string, unknown>[] | null) ?? []) {
      const repo = typeof s["repository"] === "string" ? s["repository"] : "";
      const engine = deps.config.repositories[repo]?.engine;
      rows.push({ ...s, kind: engine === "btrfs" || engine === "zfs" ? "replica" : "backup" });
    }
    if (local.exitCode === 0)
      for (const s of (local.doc as Record<string, unknown>[] | null) ?? [])
        rows.push({ ...s, repository: null, kind: "restore_point" });
    rows.sort((a, b) => String(b["time"]).localeCompare(String(a["time"])));
    return c.json(rows.slice(0, limit));
  });

  app.get("/api/snapshots/local/:id/tree", async (c) => {
    const id = z
      .string()
      .regex(/^[\w.-]{1,64}$/, "must be the run id of a restore point")
      .parse(c.req.param("id"));
    const path = cleanPath.parse(c.req.query("path") ?? "/");
    const listing = await cli.cli(["snapshots", "--local"], c.req.raw.signal);
    if (listing.exitCode !== 0) throw childFailure("snapshots --local", listing);
    const rows = ((listing.doc as LocalRow[] | null) ?? []).filter(
      (r) => r.run_id === id && r.source !== null,
    );
    if (rows.length === 0) throw new HttpError(404, `no local restore point "${id}"`);
    const row = rows.find((r) => within(path, r.source ?? ""));
    if (!row) {
      // A parent of the sources: its children on the way to them.
      const below = rows
        .map((r) => r.source ?? "")
        .filter((src) => within(src, path) && src !== path)
        .map((src) => src.slice(path === "/" ? 1 : path.length + 1).split("/")[0] ?? "");
      if (below.length === 0)
        throw new HttpError(403, `path: "${path}" is not part of restore point ${id}`);
      return c.json(
        [...new Set(below)].map((name) => ({
          name,
          path: posix.join(path, name),
          type: "dir",
          size: null,
          mtime: null,
        })),
      );
    }
    return c.json(await readLocalLevel(row, path));
  });

  app.get("/api/snapshots/:repo/:id/tree", async (c) => {
    const repo = c.req.param("repo");
    const id = snapshotId.parse(c.req.param("id"));
    const path = cleanPath.parse(c.req.query("path") ?? "/");
    checkReadable(deps.config, repo, path, "path");
    const target = await resticTarget(deps.config, repo);
    const nodes = await lsLevel(target, id, path, cacheDir);
    // restic ls lists the path itself and everything below; one level is its direct children.
    const children = nodes.filter((n) => n.path !== undefined && posix.dirname(n.path) === path);
    const roots = readableRoots(deps.config, repo);
    return c.json(
      children
        .filter((n) => roots.some((r) => within(n.path ?? "", r) || within(r, n.path ?? "")))
        .map((n) => ({
          name: n.name,
          path: n.path,
          type: n.type,
          size: n.size ?? null,
          mtime: n.mtime ?? null,
        })),
    );
  });

  app.get("/api/snapshots/:repo/:id/download", async (c) => {
    const repo = c.req.param("repo");
    const id = snapshotId.parse(c.req.param("id"));
    const path = cleanPath.parse(c.req.query("path"));
    checkReadable(deps.config, repo, path, "path");
    if (!readableRoots(deps.config, repo).some((r) => within(path, r)))
      throw new HttpError(403, `path: "${path}" is not inside a source backed up to ${repo}`);
    const target = await resticTarget(deps.config, repo);
    const parent = posix.dirname(path);
    const self = (await lsLevel(target, id, parent, cacheDir)).find((n) => n.path === path);
    if (!self) throw new HttpError(404, `"${path}" is not in snapshot ${id}`);
    const isDir = self.type === "dir";
    const out = new PassThrough();
    const abort = new AbortController();
    c.req.raw.signal.addEventListener("abort", () => abort.abort(), { once: true });
    out.on("close", () => abort.abort());
    void runRestic(target, ["dump", ...(isDir ? ["--archive", "tar"] : []), id, path], {
      action: "dump",
      cacheDir,
      stdoutTo: out,
      signal: abort.signal,
    }).then(
      () => out.end(),
      (e: unknown) => out.destroy(new Error(errorMessage(e))),
    );
    const name = posix.basename(path) || "root";
    audit(c.get("principal").name, "download", repo, { snapshot: id, path });
    return c.body(Readable.toWeb(out) as ReadableStream, 200, {
      "content-type": isDir ? "application/x-tar" : "application/octet-stream",
      "content-disposition": `attachment; filename="${name.replace(/[^\w.-]/g, "_")}${isDir ? ".tar" : ""}"`,
    });
  });

  app.get("/api/snapshots/:repo/diff", async (c) => {
    const repo = c.req.param("repo");
    const from = snapshotId.parse(c.req.query("from"));
    const to = snapshotId.parse(c.req.query("to"));
    const target = await resticTarget(deps.config, repo);
    const changes: Record<string, unknown>[] = [];
    let stats: unknown = null;
    const roots = readableRoots(deps.config, repo);
    await runRestic(target, ["diff", "--json", from, to], {
      action: "diff",
      cacheDir,
      onStdoutLine: (line) => {
        try {
          const m = JSON.parse(line) as Record<string, unknown>;
          if (m["message_type"] === "change") {
            const p = String(m["path"]);
            if (roots.some((r) => within(p, r) || within(r, p)))
              changes.push({ path: p, modifier: m["modifier"] });
          } else if (m["message_type"] === "statistics") stats = m;
        } catch {
          // Not JSON.
        }
      },
    });
    return c.json({ from, to, changes, statistics: stats });
  });

  app.post("/api/plans/:plan/restore", async (c) => {
    const name = plan(c.req.param("plan"));
    const body = restoreRequest.parse(await c.req.json().catch(() => ({})));
    const sources = deps.config.plans[name]?.sources ?? [];
    body.paths.forEach((p, i) => {
      if (!sources.some((s) => within(p, s)))
        throw new HttpError(403, `paths.${i}: "${p}" is not inside a source of plan ${name}`);
    });
    if (body.dry_run) {
      const repo =
        body.repository ??
        deps.config.plans[name]?.repositories.find(
          (r) => deps.config.repositories[r]?.engine === "restic",
        );
      if (repo === undefined) throw new HttpError(400, `plan ${name} has no restic repository`);
      const target = await resticTarget(deps.config, repo);
      const files: { path: string; to: string; exists: boolean; action: string }[] = [];
      for (const p of body.paths) {
        const latest = body.snapshot === "latest" ? ["--tag", `plan:${name}`] : [];
        const nodes = await lsLevel(target, body.snapshot, p, cacheDir, latest);
        for (const n of nodes) {
          if (n.type !== "file" || n.path === undefined || !within(n.path, p)) continue;
          const to = body.target === "/" ? n.path : posix.join(body.target, n.path);
          const existing = await lstat(to).catch(() => undefined);
          const exists = existing !== undefined;
          files.push({
            path: n.path,
            to,
            exists,
            action: !exists
              ? "write"
              : body.overwrite === "always"
                ? "overwrite"
                : body.overwrite === "if-newer"
                  ? newerInBackup(n.mtime, existing)
                    ? "overwrite"
                    : "keep"
                  : "refuse",
          });
          if (files.length >= 10_000) break;
        }
      }
      return c.json({ dry_run: true, files, truncated: files.length >= 10_000 });
    }
    const args = ["restore", name, "--target", body.target, "--snapshot", body.snapshot];
    for (const p of body.paths) args.push("--path", p);
    if (body.overwrite !== "never") args.push("--overwrite");
    if (body.overwrite === "if-newer") args.push("--if-newer");
    if (body.repository !== undefined) args.push("--repository", body.repository);
    audit(c.get("principal").name, "restore", name, { ...body });
    const r = await cli.cli(args, c.req.raw.signal);
    if (r.exitCode !== 0) throw childFailure("restore", r);
    return c.json({ ok: true, result: r.doc });
  });

  app.post("/api/plans/:plan/check", async (c) => {
    const name = plan(c.req.param("plan"));
    const body = checkRequest.parse(await c.req.json().catch(() => ({})));
    const args = ["check", name];
    if (body.read_data !== undefined) args.push("--read-data", body.read_data);
    if (body.spot !== undefined) args.push("--spot", String(body.spot));
    audit(c.get("principal").name, "check", name, { ...body });
    const r = await cli.cli(args, c.req.raw.signal);
    if (r.exitCode !== 0 && r.doc === null) throw childFailure("check", r);
    return c.json({ ok: r.exitCode === 0, exit_code: r.exitCode, result: r.doc });
  });

  app.post("/api/plans/:plan/prune", async (c) => {
    const name = plan(c.req.param("plan"));
    const body = pruneRequest.parse(await c.req.json().catch(() => ({})));
    audit(c.get("principal").name, "prune", name, { ...body });
    const r = await cli.cli(
      ["prune", name, ...(body.dry_run ? ["--dry-run"] : [])],
      c.req.raw.signal,
    );
    if (r.exitCode !== 0 && r.doc === null) throw childFailure("prune", r);
    return c.json({ ok: r.exitCode === 0, exit_code: r.exitCode, result: r.doc });
  });
}
