import { UsageError } from "../errors.js";
import { run } from "../exec/index.js";

/**
 * The next elapse of a systemd OnCalendar expression strictly after `after`, computed by
 * systemd itself (`systemd-analyze calendar`), so the daemon and `schedule install`'s timers
 * agree to the second. Undefined when the expression never elapses again.
 */
export async function nextElapse(expression: string, after: Date): Promise<Date | undefined> {
  const base = Math.floor(after.getTime() / 1000);
  const r = await run(
    "systemd-analyze",
    ["calendar", "--iterations=1", `--base-time=@${base}`, "--", expression],
    { reject: false },
  );
  if (r.exitCode !== 0)
    throw new UsageError(
      `"${expression}" is not a systemd calendar expression (see man systemd.time)`,
    );
  return parseNextElapse(r.stdout);
}

/** Reads "Next elapse:" (and its "(in UTC):" line, present when local time is not UTC). */
export function parseNextElapse(stdout: string): Date | undefined {
  const lines = stdout.split("\n").map((l) => l.trim());
  const i = lines.findIndex((l) => l.startsWith("Next elapse:"));
  if (i < 0) return undefined;
  const next = lines[i] ?? "";
  if (/Next elapse:\s*never/.test(next)) return undefined;
  const utcLine = lines[i + 1]?.startsWith("(in UTC):") ? lines[i + 1] : next;
  const m = /(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) UTC/.exec(utcLine ?? "");
  if (!m) return undefined;
  return new Date(`${m[1]}T${m[2]}Z`);
}
