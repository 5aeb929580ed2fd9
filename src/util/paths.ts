import { normalize } from "node:path";

/** "/home/" → "/home", "//a/./b" → "/a/b", "/" stays "/". */
export function normalizePath(p: string): string {
  const n = normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, "") : n;
}

/** Is `path` equal to or below `dir`? */
export function isUnder(path: string, dir: string): boolean {
  const p = normalizePath(path);
  const d = normalizePath(dir);
  return d === "/" || p === d || p.startsWith(`${d}/`);
}
