/**
 * Names on a replication target. Every source gets its own directory (btrfs) or dataset (ZFS)
 * named after the source's path or dataset, escaped the way `systemd-escape --path` does it but
 * with ':' as the escape character, which is valid in file names and in ZFS dataset names:
 * `/home` → `home`, `/var/lib/app` → `var-lib-app`, `tank/home` → `tank-home`,
 * `/srv/my-data` → `srv-my:2ddata`. The mapping is one to one, so the name gives the source back.
 */

const PLAIN = /[A-Za-z0-9_]/;

export function escapeSourceName(source: string): string {
  const trimmed = source.replace(/^\/+/, "").replace(/\/+$/, "");
  if (trimmed === "") return "-";
  let out = "";
  for (const [i, ch] of [...trimmed].entries()) {
    if (ch === "/") out += "-";
    else if (PLAIN.test(ch) || (ch === "." && i > 0)) out += ch;
    else
      for (const byte of Buffer.from(ch, "utf8")) out += `:${byte.toString(16).padStart(2, "0")}`;
  }
  return out;
}

/**
 * The source an escaped name stands for: an absolute path for btrfs targets (`absolute`), a
 * dataset name for ZFS ones. Undefined for a name this escaping never produces.
 */
export function unescapeSourceName(name: string, absolute: boolean): string | undefined {
  if (name === "-") return absolute ? "/" : undefined;
  const bytes: number[] = [];
  for (let i = 0; i < name.length; i++) {
    const ch = name[i] ?? "";
    if (ch === "-") bytes.push(0x2f);
    else if (ch === ":") {
      const hex = name.slice(i + 1, i + 3);
      if (!/^[0-9a-f]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (PLAIN.test(ch) || (ch === "." && i > 0)) bytes.push(ch.charCodeAt(0));
    else return undefined;
  }
  const text = Buffer.from(bytes).toString("utf8");
  if (escapeSourceName(text) !== name) return undefined;
  return absolute ? `/${text}` : text;
}

const RUN_ID_TIME = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/;

/** The instant a run id (`20261122T024000Z-1a2b`) was made, if it has the usual form. */
export function runIdTime(runId: string): Date | undefined {
  const m = RUN_ID_TIME.exec(runId);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number);
  const t = Date.UTC(y ?? 0, (mo ?? 1) - 1, d ?? 1, h ?? 0, mi ?? 0, s ?? 0);
  return Number.isNaN(t) ? undefined : new Date(t);
}

/** A ZFS snapshot name snapback makes (`snapback-<plan>-<runId>`, see snapshot/zfs/commands.ts). */
const ZFS_SNAPSHOT = /^snapback-([A-Za-z0-9][A-Za-z0-9_.-]*?)-(\d{8}T\d{6}Z-[A-Za-z0-9]+)$/;

export function parseZfsSnapshotName(snap: string): { plan: string; runId: string } | undefined {
  const m = ZFS_SNAPSHOT.exec(snap);
  return m?.[1] && m[2] ? { plan: m[1], runId: m[2] } : undefined;
}
