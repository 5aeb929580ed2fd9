import { readdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { ProcessError, run } from "../../exec/index.js";
import { limiter } from "../../util/limit.js";
import type { Host } from "./ssh.js";

/** What `btrfs subvolume show` says about one subvolume, as replication needs it. */
export interface SubvolumeInfo {
  path: string;
  name: string;
  uuid: string;
  parentUuid: string | undefined;
  receivedUuid: string | undefined;
  readonly: boolean;
  /** Generation at creation: creation order within one filesystem. */
  genAtCreation: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Parses one `btrfs subvolume show` output (btrfs-progs 4.x–6.x: "Key: value" lines, then a
 * "Snapshot(s):" list that is not ours to read). Undefined when it is not a subvolume.
 */
export function parseSubvolumeShow(path: string, text: string): SubvolumeInfo | undefined {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (/^\s*Snapshot\(s\):/.test(line)) break;
    const m = /^\s*([A-Za-z][A-Za-z ]*?):\s*(.*?)\s*$/.exec(line);
    if (m?.[1] && m[2] !== undefined && !fields.has(m[1])) fields.set(m[1], m[2]);
  }
  const uuid = fields.get("UUID");
  if (!uuid || !UUID.test(uuid)) return undefined;
  const optionalUuid = (key: string): string | undefined => {
    const v = fields.get(key);
    return v && UUID.test(v) ? v.toLowerCase() : undefined;
  };
  return {
    path,
    name: fields.get("Name") ?? basename(path),
    uuid: uuid.toLowerCase(),
    parentUuid: optionalUuid("Parent UUID"),
    receivedUuid: optionalUuid("Received UUID"),
    readonly: /\breadonly\b/.test(fields.get("Flags") ?? ""),
    genAtCreation: Number(fields.get("Gen at creation") ?? 0) || 0,
  };
}

const MARK = "@@snapback-subvolume@@";

/**
 * One shell loop on the host runs `btrfs subvolume show` for every argument (or, with `glob`,
 * for every `snapback@*` entry of the directory given): one ssh connection, not one per snapshot.
 */
const SHOW_SCRIPT = `for p in "$@"; do [ -e "$p" ] || continue; printf '\\n${MARK} %s\\n' "$p"; btrfs subvolume show "$p" 2>/dev/null || true; done`;
const LIST_SCRIPT = `d=$1; shift; set -- "$d"/snapback@*; ${SHOW_SCRIPT}`;

function parseBatch(out: string): SubvolumeInfo[] {
  const found: SubvolumeInfo[] = [];
  for (const chunk of out.split(`\n${MARK} `).slice(1)) {
    const nl = chunk.indexOf("\n");
    const path = nl < 0 ? chunk : chunk.slice(0, nl);
    const info = parseSubvolumeShow(path, nl < 0 ? "" : chunk.slice(nl + 1));
    if (info) found.push(info);
  }
  return found;
}

/** The subvolumes among `paths` (others are left out), in one command on the host. */
export async function showSubvolumes(
  host: Host,
  paths: readonly string[],
  signal?: AbortSignal,
): Promise<SubvolumeInfo[]> {
  if (paths.length === 0) return [];
  if (!host.remote) return showHere(paths, signal);
  const r = await host.run(["sh", "-c", SHOW_SCRIPT, "sh", ...paths], signal ? { signal } : {});
  return parseBatch(r.stdout);
}

/** The `snapback@…` subvolumes directly in `dir` (none if it does not exist). */
export async function listSnapbackSubvolumes(
  host: Host,
  dir: string,
  signal?: AbortSignal,
): Promise<SubvolumeInfo[]> {
  if (!host.remote) {
    const names = await readdir(dir).catch(() => []);
    const ours = names.filter((n) => n.startsWith("snapback@")).sort();
    return showHere(
      ours.map((n) => join(dir, n)),
      signal,
    );
  }
  const r = await host.run(["sh", "-c", LIST_SCRIPT, "sh", dir], signal ? { signal } : {});
  return parseBatch(r.stdout);
}

/** How many `btrfs subvolume show` run at once on this machine. */
const LOCAL_SHOWS = 4;

/**
 * On this machine there is no connection to save: `btrfs subvolume show` runs directly for
 * each path, a few at a time, without the shell loop (a replication makes a dozen of these
 * calls, and every process start counts in its fixed cost). Same result, same order.
 */
async function showHere(paths: readonly string[], signal?: AbortSignal): Promise<SubvolumeInfo[]> {
  const limit = limiter(LOCAL_SHOWS);
  const found = await Promise.all(
    paths.map((path) =>
      limit(async () => {
        const r = await run("btrfs", ["subvolume", "show", path], {
          reject: false,
          ...(signal ? { signal } : {}),
        });
        // As the shell loop's run would: an interrupted run fails, it does not read as "none".
        if (r.aborted) throw new ProcessError(r);
        return r.exitCode === 0 ? parseSubvolumeShow(path, r.stdout) : undefined;
      }),
    ),
  );
  return found.filter((s): s is SubvolumeInfo => s !== undefined);
}
