/** "90s", "5m", "1h30m", "500ms" → milliseconds; undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (!/^(\d+(ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/(\d+)(ms|s|m|h)/g)) {
    const unit = m[2];
    total += Number(m[1]) * (unit === "ms" ? 1 : unit === "s" ? 1e3 : unit === "m" ? 6e4 : 36e5);
  }
  return total;
}

/**
 * Node timers hold at most 2^31-1 ms (~24.8 days); anything longer fires at once. A day is
 * already far beyond any sensible hook.
 */
export const MAX_HOOK_TIMEOUT_MS = 24 * 36e5;
