import { mkdir, open, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { JournalEntry } from "./snapshot.js";
import { isAlive, ownerlessLeftBehind, selfIdentity, type ProcessIdentity } from "../util/proc.js";

/**
 * An append-only record of everything a run is about to create. Each entry is written and
 * flushed to disk BEFORE the object exists, so after a SIGKILL or power loss the next run knows
 * exactly what to remove. A finished run deletes its journal.
 *
 * Only what a later run must not miss is flushed: an `add` (an object about to exist) and a
 * `done` (an object that stays, e.g. a restore point no run may reclaim). The owner line and a
 * `gone` (the object was removed or never made) are written without a flush of their own: lost
 * in a power cut, the next run replays an entry whose object is not there, and reclaiming a
 * missing object is success (SnapshotProvider.reclaim). Each flush is an fsync, milliseconds
 * on an SSD and tens of them on a disk.
 *
 * File: <state_dir>/journal/<runId>.jsonl — first line the owner, then one entry per line
 * ({"add":entry}, or {"done":entry} once the object is gone again or kept: either way no run
 * reclaims it).
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
    // No flush: nothing exists yet; the first `add` flushes this line with its own.
    await journal.append(
      [{ owner: { ...selfIdentity(), plan, runId, started: new Date().toISOString() } }],
      false,
    );
    return journal;
  }

  /** Objects about to be created, flushed together before any of them exists. */
  async add(...entries: JournalEntry[]): Promise<void> {
    await this.append(
      entries.map((add) => ({ add })),
      true,
    );
  }

  /** An object that stays (a kept restore point, a replication parent): no run reclaims it. */
  async done(entry: JournalEntry): Promise<void> {
    await this.append([{ done: entry }], true);
  }

  /** An object that was removed, or never made: nothing left to reclaim (see the class comment). */
  async gone(entry: JournalEntry): Promise<void> {
    await this.append([{ done: entry }], false);
  }

  async remove(): Promise<void> {
    await rm(this.path, { force: true });
  }

  private async append(records: readonly unknown[], flush: boolean): Promise<void> {
    if (records.length === 0) return;
    const fh = await open(this.path, "a", 0o600);
    try {
      // appendFile writes until all is out (a short write on a full disk is an error, not a torn line).
      await fh.appendFile(records.map((r) => `${JSON.stringify(r)}\n`).join(""));
      if (flush) await fh.datasync();
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
      // Its run may be between creating the file and writing the owner line.
      if (!(await ownerlessLeftBehind(path))) continue;
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
