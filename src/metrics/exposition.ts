import type { Family } from "./families.js";

/** Prometheus text exposition format 0.0.4: rendering, and parsing back what we rendered. */

export interface Sample {
  name: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** Label pairs in the family's order, so equal label sets render (and key) identically. */
export function labelString(family: Family, labels: Readonly<Record<string, string>>): string {
  const pairs = family.labels.map((l) => `${l}="${escapeLabelValue(labels[l] ?? "")}"`);
  return pairs.length > 0 ? `{${pairs.join(",")}}` : "";
}

/** Families in the given order, each with HELP and TYPE before its samples, sorted by labels. */
export function render(families: readonly Family[], samples: readonly Sample[]): string {
  const out: string[] = [];
  for (const family of families) {
    const lines = samples
      .filter((s) => s.name === family.name)
      .map((s) => `${family.name}${labelString(family, s.labels)} ${formatValue(s.value)}`)
      .sort();
    if (lines.length === 0) continue;
    out.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} gauge`);
    out.push(...lines);
  }
  return out.length > 0 ? `${out.join("\n")}\n` : "";
}

export class ExpositionError extends Error {}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+-?\d+)?$/;
const LABEL = /^[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\\n]|\\[\\"n])*)"[ \t]*(,|$)/;

/** Parses sample lines (comments skipped). Throws ExpositionError naming the bad line. */
export function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const m = SAMPLE.exec(line);
    const value = m ? parseValue(m[3] ?? "") : undefined;
    if (!m || value === undefined) throw new ExpositionError(`line ${i + 1}: not a sample`);
    const labels: Record<string, string> = {};
    let rest = m[2] ?? "";
    while (rest.trim() !== "") {
      const l = LABEL.exec(rest);
      if (!l) throw new ExpositionError(`line ${i + 1}: bad label list`);
      labels[l[1] ?? ""] = unescapeLabelValue(l[2] ?? "");
      rest = rest.slice(l[0].length);
    }
    samples.push({ name: m[1] ?? "", labels, value });
  });
  return samples;
}

function parseValue(s: string): number | undefined {
  if (s === "NaN") return NaN;
  if (s === "+Inf" || s === "Inf") return Infinity;
  if (s === "-Inf") return -Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}

function unescapeLabelValue(v: string): string {
  return v.replace(/\\([\\"n])/g, (_, c: string) => (c === "n" ? "\n" : c));
}
