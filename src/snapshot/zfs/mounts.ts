import { run } from "../../exec/index.js";

/** One mounted ZFS dataset (or snapshot) as this mount namespace sees it. */
export interface ZfsMount {
  target: string;
  /** Dataset name (`pool/fs`, or `pool/fs@snap` for a mounted snapshot). */
  source: string;
  fstype: string;
  fsroot: string;
}

/** OpenZFS mounts as `zfs`, zfs-fuse as `fuse.zfs`; both name the dataset as the source. */
export const ZFS_FSTYPES = ["zfs", "fuse.zfs"] as const;

interface FindmntJson {
  filesystems?: { target?: string; source?: string; fstype?: string; fsroot?: string }[];
}

export async function zfsMounts(): Promise<ZfsMount[]> {
  const r = await run(
    "findmnt",
    ["-J", "-l", "-t", ZFS_FSTYPES.join(","), "-o", "TARGET,SOURCE,FSTYPE,FSROOT"],
    {
      reject: false,
    },
  );
  // findmnt exits 1 with no output when nothing matches.
  if (r.exitCode !== 0 || !r.stdout.trim()) return [];
  const parsed = JSON.parse(r.stdout) as FindmntJson;
  return (parsed.filesystems ?? []).flatMap((f) =>
    f.target && f.source && f.fstype
      ? [
          {
            target: f.target,
            source: stripBindRoot(f.source),
            fstype: f.fstype,
            fsroot: f.fsroot ?? "/",
          },
        ]
      : [],
  );
}

/** findmnt shows a bind mount of a subdirectory as `pool/fs[/sub]`. */
function stripBindRoot(source: string): string {
  return source.replace(/\[.*\]$/, "");
}

/** Where each dataset is mounted with its root (not a bind of a subdirectory). */
export function mountTargetsByDataset(mounts: readonly ZfsMount[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const m of mounts) {
    if (m.fsroot !== "/") continue;
    map.set(m.source, [...(map.get(m.source) ?? []), m.target]);
  }
  return map;
}

/** Is something mounted exactly at `dir`? Returns its source and fstype. */
export async function mountAt(
  dir: string,
): Promise<{ source: string; fstype: string } | undefined> {
  const r = await run("findmnt", ["-J", "-o", "SOURCE,FSTYPE", "--mountpoint", dir], {
    reject: false,
  });
  if (r.exitCode !== 0 || !r.stdout.trim()) return undefined;
  const f = (JSON.parse(r.stdout) as FindmntJson).filesystems?.[0];
  return f?.source && f.fstype ? { source: stripBindRoot(f.source), fstype: f.fstype } : undefined;
}
