export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
}

function pad(n: number): string {
  return n.toString().padStart(2, "0");
}

/**
 * What a replication target's summary says instead of file counts (it has none): how many
 * source snapshots were sent, and how.
 */
export function replicatedText(sent: readonly { parent: string | null }[]): string {
  const incremental = sent.filter((s) => s.parent !== null).length;
  const full = sent.length - incremental;
  const how =
    full === 0
      ? "incrementally"
      : incremental === 0
        ? "in full"
        : `(${incremental} incrementally, ${full} in full)`;
  return `${sent.length} ${sent.length === 1 ? "snapshot" : "snapshots"} sent ${how}`;
}
