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
  return lines;
}

/** 0 when every required check passed, else the worst exit code a run would end with. */
export function exitCodeOf(findings: readonly Finding[]): number {
  return combineExitCodes(findings.filter((f) => !f.ok && f.required).map((f) => f.exitCode ?? 2));
}
