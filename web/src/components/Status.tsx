import type { DayOutcome } from "../types.js";

export function StatusBadge({ status }: { status: string | null | undefined }) {
  const s = status ?? "never";
  return <span class={`badge s-${s}`}>{s}</span>;
}

/** 30 days, oldest first: one cell a day, coloured by the day's worst outcome. */
export function DayStrip({ days }: { days: DayOutcome[] }) {
  return (
    <ol class="strip" aria-label="daily outcomes, last 30 days">
      {days.map((d) => (
        <li
          key={d.date}
          class={`s-${d.status ?? "none"}`}
          title={`${d.date}: ${d.status ?? "no run"}`}
          aria-label={`${d.date}: ${d.status ?? "no run"}`}
        />
      ))}
    </ol>
  );
}
