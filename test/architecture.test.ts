import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * Keeps docs/architecture.md true: imports between the top-level folders of src/ go one way,
 * from a layer to the same or a lower one, and never round in a circle. Counted like the
 * review that found the old cycle: every relative import of a module (tests and
 * test-support files left out), top-level files (`errors.ts`, `log.ts`) as folders of their own.
 */

const ROOT = resolve(import.meta.dirname, "..");
const SRC = join(ROOT, "src");

function modules(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...modules(path));
    else if (path.endsWith(".ts") && !path.endsWith(".test.ts") && !path.includes("test-support"))
      out.push(path);
  }
  return out;
}

const folderOf = (path: string): string =>
  (relative(SRC, path).split("/")[0] ?? "").replace(/\.[jt]s$/, "");

/** folder → imported folder → the imports that make the edge ("run/apply.ts -> core/lock.js"). */
function folderGraph(): Map<string, Map<string, string[]>> {
  const graph = new Map<string, Map<string, string[]>>();
  const pattern =
    /(?:import|export)[^'"]*?from\s+["'](\.[^"']+)["']|import\(\s*["'](\.[^"']+)["']\s*\)/g;
  for (const file of modules(SRC)) {
    for (const m of readFileSync(file, "utf8").matchAll(pattern)) {
      const spec = m[1] ?? m[2] ?? "";
      const target = resolve(dirname(file), spec);
      const from = folderOf(file);
      const to = folderOf(target);
      if (from === to) continue;
      const edges = graph.get(from) ?? new Map<string, string[]>();
      graph.set(from, edges);
      edges.set(to, [
        ...(edges.get(to) ?? []),
        `${relative(SRC, file)} -> ${relative(SRC, target)}`,
      ]);
    }
  }
  return graph;
}

/** Strongly connected components of more than one folder (Tarjan). */
function cycles(graph: Map<string, Map<string, string[]>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop();
        if (w !== undefined) {
          onStack.delete(w);
          component.push(w);
        }
      } while (w !== undefined && w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  const nodes = new Set([...graph.keys(), ...[...graph.values()].flatMap((e) => [...e.keys()])]);
  for (const n of nodes) if (!index.has(n)) visit(n);
  return found;
}

/** The folder map of docs/architecture.md: rows "| 3 core | `core/` | ... |" → folder → layer. */
function documentedLayers(): Map<string, number> {
  const doc = readFileSync(join(ROOT, "docs", "architecture.md"), "utf8");
  const layers = new Map<string, number>();
  for (const m of doc.matchAll(/^\|\s*(\d+)[^|]*\|\s*`([\w-]+)(?:\/|\.ts)`\s*\|/gm))
    layers.set(m[2] ?? "", Number(m[1]));
  return layers;
}

const srcFolders = (): string[] =>
  readdirSync(SRC)
    .filter(
      (name) =>
        statSync(join(SRC, name)).isDirectory() ||
        (name.endsWith(".ts") && !name.endsWith(".test.ts")),
    )
    .map((name) => name.replace(/\.ts$/, ""))
    .sort();

describe("architecture", () => {
  const graph = folderGraph();
  const layers = documentedLayers();

  it("docs/architecture.md places every folder of src/ in exactly one layer", () => {
    expect([...layers.keys()].sort()).toEqual(srcFolders());
    expect(new Set(layers.values()).size).toBeGreaterThan(4);
  });

  it("no two folders of src/ import each other, directly or round a circle", () => {
    const pairs: string[] = [];
    for (const [a, edges] of graph)
      for (const [b, imports] of edges) {
        const back = graph.get(b)?.get(a);
        if (a < b && back) pairs.push(`${a} <-> ${b}: ${[...imports, ...back].join(", ")}`);
      }
    expect(pairs).toEqual([]);
    expect(cycles(graph)).toEqual([]);
  });

  it("imports go from a layer to the same or a lower one", () => {
    const upward: string[] = [];
    for (const [a, edges] of graph)
      for (const [b, imports] of edges) {
        const from = layers.get(a);
        const to = layers.get(b);
        if (from === undefined || to === undefined || to > from)
          upward.push(`${a} (layer ${from}) -> ${b} (layer ${to}): ${imports.join(", ")}`);
      }
    expect(upward).toEqual([]);
  });
});
