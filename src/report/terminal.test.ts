import { PassThrough } from "node:stream";
import { describe, expect, test } from "vitest";
import type { RunEvent } from "../core/events.js";
import { TerminalReporter } from "./terminal.js";
import { toProgress } from "../engine/restic/backup.js";
import { parseBackupLine } from "../engine/restic/messages.js";
import { progressEvent } from "../run/progress.js";

const progress: RunEvent = {
  type: "progress",
  plan: "home",
  repository: "nas",
  percent_done: 0.425,
  files_done: 1200,
  total_files: 3000,
  bytes_done: 512 * 1024 * 1024,
  total_bytes: 2 * 1024 * 1024 * 1024,
  seconds_elapsed: 30,
  seconds_remaining: 95,
};

function stream(
  isTTY: boolean,
): PassThrough & { isTTY: boolean; columns: number; text: () => string } {
  const s = new PassThrough() as PassThrough & {
    isTTY: boolean;
    columns: number;
    text: () => string;
  };
  let out = "";
  s.on("data", (d: Buffer) => (out += d.toString()));
  s.isTTY = isTTY;
  s.columns = 120;
  s.text = () => out;
  return s;
}

describe("terminal progress", () => {
  test("on a TTY: one live line per update with files, bytes, percent and ETA", () => {
    const err = stream(true);
    const r = new TerminalReporter(() => undefined, err);
    r.handle(progress);
    r.handle({ ...progress, percent_done: 0.5 });
    expect(err.text()).toBe(
      "\r\x1b[Knas: 42.5% 1200/3000 files 512.0 MiB/2.0 GiB ETA 1:35\r\x1b[Knas: 50.0% 1200/3000 files 512.0 MiB/2.0 GiB ETA 1:35",
    );
  });

  test("otherwise: plain lines, at most one per interval, none for a short backup", () => {
    const err = stream(false);
    const r = new TerminalReporter(() => undefined, err, false, 60_000);
    r.handle(progress);
    expect(err.text()).toBe("");
    const every = new TerminalReporter(() => undefined, err, false, 0);
    every.handle(progress);
    expect(err.text()).toBe("nas: 42.5% 1200/3000 files 512.0 MiB/2.0 GiB ETA 1:35\n");
  });

  test("the live line is cleared before a result is printed", () => {
    const err = stream(true);
    const out: string[] = [];
    const r = new TerminalReporter((l) => out.push(l), err);
    r.handle(progress);
    r.handle({ type: "warning", plan: "home", repository: "nas", message: "cannot read /x" });
    expect(err.text()).toContain("\r\x1b[Kwarning: nas: cannot read /x\n");
  });
});

describe("progress from restic to the terminal", () => {
  test("restic's percent_done 0.25 is 25.0% on the terminal and 0.25 in --json", () => {
    // The status line of restic 0.17 (fixture), through the adapter and the run's event.
    const line =
      '{"message_type":"status","seconds_elapsed":1,"seconds_remaining":4,"percent_done":0.25,"total_files":8,"files_done":2,"total_bytes":4096,"bytes_done":1024}';
    const msg = parseBackupLine(line);
    if (msg?.type !== "status") throw new Error("not a status line");
    const event = progressEvent("home", "local", toProgress("local", msg));
    expect(event.percent_done).toBe(0.25);
    const err = stream(true);
    new TerminalReporter(() => undefined, err).handle(event);
    expect(err.text()).toBe("\r\x1b[Klocal: 25.0% 2/8 files 1.0 KiB/4.0 KiB ETA 0:04");
  });

  test("a fraction outside 0–1 is clamped, never scaled twice", () => {
    const msg = parseBackupLine('{"message_type":"status","percent_done":1.5}');
    if (msg?.type !== "status") throw new Error("not a status line");
    expect(toProgress("local", msg).fraction).toBe(1);
  });
});

describe("summary lines", () => {
  const summary = {
    type: "summary",
    plan: "home",
    repository: "usb",
    snapshot_id: "20261128T062722-ab12",
    files_new: 0,
    files_changed: 0,
    files_unmodified: 0,
    dirs_new: 0,
    dirs_changed: 0,
    dirs_unmodified: 0,
    data_blobs: 0,
    data_added: 0,
    total_files_processed: 2,
    total_bytes_processed: 0,
    error_count: 0,
    duration_s: 1.2,
  } as const;
  const printed = (e: RunEvent): string[] => {
    const out: string[] = [];
    new TerminalReporter((l) => out.push(l), stream(false)).handle(e);
    return out;
  };

  test("a replication target says what it sent, not restic's zero file counts", () => {
    const one = { source: "/data", received: "/mnt/usb/data/s2", duration_s: 1 };
    expect(printed({ ...summary, replicated: [{ ...one, parent: "/data/.snapback/s1" }] })).toEqual(
      ["home → usb: snapshot 20261128T062722-ab12: 1 snapshot sent incrementally in 0:01"],
    );
    expect(printed({ ...summary, replicated: [{ ...one, parent: null }] })).toEqual([
      "home → usb: snapshot 20261128T062722-ab12: 1 snapshot sent in full in 0:01",
    ]);
    expect(
      printed({
        ...summary,
        replicated: [
          { ...one, parent: null },
          { ...one, parent: "/p" },
        ],
      }),
    ).toEqual([
      "home → usb: snapshot 20261128T062722-ab12: 2 snapshots sent (1 incrementally, 1 in full) in 0:01",
    ]);
  });

  test("restic's summary keeps its counts", () => {
    expect(printed({ ...summary, files_new: 3, data_added: 2048 })).toEqual([
      "home → usb: snapshot 20261128: files 3 new, 0 changed, 0 unmodified; 2.0 KiB added in 0:01",
    ]);
  });
});
