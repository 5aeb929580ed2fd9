import { appendFile, mkdir, open, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { JournalEntry } from "./snapshot.js";
import { isAlive, selfIdentity, type ProcessIdentity } from "../util/proc.js";

/**
 * An append-only record of everything a run is about to create. Each entry is written and
 * fsynced BEFORE the object exists, so after a SIGKILL or power loss the next run knows
 * exactly what to remove. A finished run deletes its journal.
 *
 * File: <state_dir>/journal/<runId>.jsonl — first line the owner, then one entry per line
 * ({"add":entry} or {"done":entry} once the object is gone again).
 */
export class Journal {
  private constructor(
    readonly path: string,
    readonly runId: string,
  ) {}

  static async create(stateDir: string, runId: string, plan: string): Promise<Journal> {
    const dir = journalDir(stateDir);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const journal = new Journal(join(dir, `${runId}.jsonl`), runId);
    await journal.append({
      owner: { ...selfIdentity(), plan, runId, started: new Date().toISOString() },
    });
    return journal;
  }

  async add(entry: JournalEntry): Promise<void> {
    await this.append({ add: entry });
  }

  async done(entry: JournalEntry): Promise<void> {
    await this.append({ done: entry });
  }

  async remove(): Promise<void> {
    await rm(this.path, { force: true });
  }

  private async append(record: unknown): Promise<void> {
    await appendFile(this.path, `${JSON.stringify(record)}\n`, { mode: 0o600 });
    const fh = await open(this.path, "r");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}

export interface OrphanJournal {
  path: string;
  owner: ProcessIdentity & { plan: string; runId: string; started: string };
  /** Objects created and not yet removed, oldest first. */
  pending: JournalEntry[];
}

export function journalDir(stateDir: string): string {
  return join(stateDir, "journal");
}

/** Journals whose owning process is gone: their objects are leftovers to reclaim. */
export async function findOrphanJournals(stateDir: string): Promise<OrphanJournal[]> {
  let names: string[];
  try {
    names = await readdir(journalDir(stateDir));
  } catch {
    return [];
  }
  const orphans: OrphanJournal[] = [];
  for (const name of names.filter((n) => n.endsWith(".jsonl")).sort()) {
    const path = join(journalDir(stateDir), name);
    const parsed = parseJournal(await readFile(path, "utf8").catch(() => ""));
    if (!parsed.owner) {
      orphans.push({
        path,
        owner: { pid: 0, startTime: "", plan: "?", runId: name, started: "" },
        pending: parsed.pending,
      });
      continue;
    }
    if (!isAlive(parsed.owner))
      orphans.push({ path, owner: parsed.owner, pending: parsed.pending });
  }
  return orphans;
}

function parseJournal(text: string): { owner?: OrphanJournal["owner"]; pending: JournalEntry[] } {
  let owner: OrphanJournal["owner"] | undefined;
  const pending: JournalEntry[] = [];
  const key = (e: JournalEntry): string => `${e.provider}\u0000${e.type}\u0000${e.id}`;
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    let rec: { owner?: OrphanJournal["owner"]; add?: JournalEntry; done?: JournalEntry };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      continue; // A torn last line from a crash mid-write.
    }
    if (rec.owner) owner = rec.owner;
    if (rec.add) pending.push(rec.add);
    if (rec.done) {
      const k = key(rec.done);
      const i = pending.findIndex((e) => key(e) === k);
      if (i >= 0) pending.splice(i, 1);
    }
  }
  return owner ? { owner, pending } : { pending };
}
