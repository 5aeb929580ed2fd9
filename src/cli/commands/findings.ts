import type { Finding } from "../../preflight/index.js";
import { combineExitCodes } from "./plans.js";

/** "ok  name: detail", "FAIL …" (a run would fail) or "warn …", each failure with its fix. */
export function formatFindings(findings: readonly Finding[]): string[] {
  const lines: string[] = [];
  for (const f of findings) {
    lines.push(`${f.ok ? "ok  " : f.required ? "FAIL" : "warn"} ${f.name}: ${f.detail}`);
    if (!f.ok && f.fix) lines.push(`     fix: ${f.fix}`);
  }
  return lines;
}

/** 0 when every required check passed, else the worst exit code a run would end with. */
export function exitCodeOf(findings: readonly Finding[]): number {
  return combineExitCodes(findings.filter((f) => !f.ok && f.required).map((f) => f.exitCode ?? 2));
}
