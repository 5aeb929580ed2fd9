/**
 * Finds the line of a key path in TOML text, so config errors can say "line 12". Best effort:
 * it understands [table] / [[array]] headers, dotted and quoted keys, and skips multi-line
 * strings; a key inside an inline table or multi-line array is reported at the line of the
 * key that opens it. Numeric path segments (array indices) are ignored.
 */
export function lineOfKey(text: string, path: readonly (string | number)[]): number | undefined {
  const want = path.filter((p): p is string => typeof p === "string");
  if (want.length === 0) return undefined;
  let table: string[] = [];
  let best: number | undefined;
  let bestDepth = 0;
  let openString: '"""' | "'''" | undefined;
  const consider = (keys: readonly string[], line: number): void => {
    if (keys.length > bestDepth && isPrefix(keys, want)) {
      best = line;
      bestDepth = keys.length;
    }
  };
  text.split("\n").forEach((raw, i) => {
    if (openString) {
      if (countDelimiters(raw, openString) % 2 === 1) openString = undefined;
      return;
    }
    const line = raw.trim();
    if (line.startsWith("[")) {
      const start = line.startsWith("[[") ? 2 : 1;
      const key = readKey(line, start);
      if (key && /^\s*\]/.test(line.slice(key.end))) {
        table = key.keys;
        consider(table, i + 1);
      }
      return;
    }
    const key = readKey(line, 0);
    if (!key || !/^\s*=/.test(line.slice(key.end))) return;
    consider([...table, ...key.keys], i + 1);
    const value = line.slice(key.end).replace(/^\s*=\s*/, "");
    for (const delim of ['"""', "'''"] as const) {
      if (value.startsWith(delim) && countDelimiters(value, delim) % 2 === 1) openString = delim;
    }
  });
  return best;
}

interface KeyRead {
  keys: string[];
  end: number;
}

/** Reads a dotted key (bare, "basic" or 'literal' segments) starting at `pos`. */
function readKey(s: string, pos: number): KeyRead | undefined {
  const keys: string[] = [];
  let i = pos;
  for (;;) {
    while (s[i] === " " || s[i] === "\t") i++;
    const c = s[i];
    if (c === '"') {
      let out = "";
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === "\\" && i + 1 < s.length) i++;
        out += s[i];
        i++;
      }
      if (s[i] !== '"') return undefined;
      i++;
      keys.push(out);
    } else if (c === "'") {
      const close = s.indexOf("'", i + 1);
      if (close < 0) return undefined;
      keys.push(s.slice(i + 1, close));
      i = close + 1;
    } else {
      const m = /^[A-Za-z0-9_-]+/.exec(s.slice(i));
      if (!m) return undefined;
      keys.push(m[0]);
      i += m[0].length;
    }
    let j = i;
    while (s[j] === " " || s[j] === "\t") j++;
    if (s[j] !== ".") return { keys, end: i };
    i = j + 1;
  }
}

function isPrefix(have: readonly string[], want: readonly string[]): boolean {
  return have.length <= want.length && have.every((k, i) => k === want[i]);
}

function countDelimiters(s: string, delim: string): number {
  return s.split(delim).length - 1;
}
