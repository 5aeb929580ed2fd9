import type { Finding } from "../../preflight/index.js";
import { combineExitCodes } from "./plans.js";

/** "ok  name: detail", "FAIL …" (a run would fail) or "warn …", each failure with its fix. */
export function formatFindings(findings: readonly Finding[]): string[] {
  const lines: string[] = [];
  for (const f of findings) {
    // An error message that already names its key ("plans.p.sources: …") is not named twice.
    const text = f.detail.startsWith(f.name) ? f.detail : `${f.name}: ${f.detail}`;
    lines.push(`${f.ok ? "ok  " : f.required ? "FAIL" : "warn"} ${text}`);
    if (!f.ok && f.fix) lines.push(`     fix: ${f.fix}`);
  }
  const apt = aptLine(findings);
  if (apt) lines.push(`to install everything missing: ${apt}`);
  return lines;
}

/** One `apt-get install` line for the packages of every failed check, or undefined. */
export function aptLine(findings: readonly Finding[]): string | undefined {
  const packages = [...new Set(findings.flatMap((f) => (f.ok ? [] : (f.packages ?? []))))];
  return packages.length === 0 ? undefined : `apt-get install ${packages.join(" ")}`;
}

/** 0 when every required check passed, else the worst exit code a run would end with. */
export function exitCodeOf(findings: readonly Finding[]): number {
  return combineExitCodes(findings.filter((f) => !f.ok && f.required).map((f) => f.exitCode ?? 2));
}
