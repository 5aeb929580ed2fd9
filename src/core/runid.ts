import { randomBytes } from "node:crypto";

/** Sortable and unique: 20261122T024000Z-1a2b. Used in snapshot names and journals. */
export function newRunId(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `${stamp}-${randomBytes(2).toString("hex")}`;
}
