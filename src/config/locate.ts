/**
 * Finds the line of a key path in TOML text, so config errors can say "line 12". Best effort:
 * it understands [table] / [table.sub] headers, dotted keys and inline tables only shallowly.
 */
export function lineOfKey(text: string, path: readonly (string | number)[]): number | undefined {
  const keys = path.filter((p): p is string => typeof p === "string");
  if (keys.length === 0) return undefined;
  const lines = text.split("\n");
  let table: string[] = [];
  let best: number | undefined;
  let bestDepth = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? "").trim();
    const header = /^\[\[?\s*([^\]]+?)\s*\]\]?/.exec(line);
    if (header?.[1]) {
      table = splitDotted(header[1]);
      const depth = matchDepth(table, keys);
      if (depth === table.length && depth > bestDepth) {
        best = i + 1;
        bestDepth = depth;
      }
      continue;
    }
    const assign = /^("[^"]*"|'[^']*'|[\w.-]+(?:\s*\.\s*[\w.-]+)*)\s*=/.exec(line);
    if (assign?.[1]) {
      const full = [...table, ...splitDotted(assign[1])];
      const depth = matchDepth(full, keys);
      if (depth === full.length && depth > bestDepth) {
        best = i + 1;
        bestDepth = depth;
      }
    }
  }
  return best;
}

function splitDotted(s: string): string[] {
  return s.split(".").map((p) => p.trim().replace(/^["']|["']$/g, ""));
}

function matchDepth(have: readonly string[], want: readonly string[]): number {
  let n = 0;
  while (n < have.length && n < want.length && have[n] === want[n]) n++;
  return n === have.length ? n : 0;
}
