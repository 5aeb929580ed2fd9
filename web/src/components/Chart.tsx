/** A plain SVG line chart: no library, a few hundred points at most (one page of runs). */
export function LineChart({
  title,
  points,
  format,
}: {
  title: string;
  points: { x: number; y: number }[];
  format: (v: number) => string;
}) {
  const w = 320;
  const h = 90;
  if (points.length < 2)
    return (
      <figure class="chart">
        <figcaption>{title}</figcaption>
        <p class="muted">not enough runs yet</p>
      </figure>
    );
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const y1 = Math.max(...ys, 1);
  const sx = (x: number) => (x1 === x0 ? w / 2 : ((x - x0) / (x1 - x0)) * (w - 10) + 5);
  const sy = (y: number) => h - 5 - (y / y1) * (h - 10);
  const d = points.map((p, i) => `${i ? "L" : "M"}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`);
  return (
    <figure class="chart">
      <figcaption>
        {title} <small>(max {format(y1)})</small>
      </figcaption>
      <svg viewBox={`0 0 ${w} ${h}`} role="img" aria-label={title}>
        <path d={d.join(" ")} fill="none" stroke="currentColor" stroke-width="1.5" />
      </svg>
    </figure>
  );
}
