import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { describeError, parseBackupLine, type BackupMessage } from "./messages.js";

function fixture(name: string): BackupMessage[] {
  const text = readFileSync(join(import.meta.dirname, "fixtures", name), "utf8");
  return text
    .split("\n")
    .map((l) => parseBackupLine(l))
    .filter((m): m is BackupMessage => m !== undefined);
}

function only<T extends BackupMessage["type"]>(
  msgs: BackupMessage[],
  type: T,
): Extract<BackupMessage, { type: T }>[] {
  return msgs.filter((m): m is Extract<BackupMessage, { type: T }> => m.type === type);
}

describe("restic 0.14 backup --json", () => {
  const msgs = fixture("backup-0.14.jsonl");

  it("reads status lines with omitted fields as zero", () => {
    const [first, second] = only(msgs, "status");
    expect(first).toEqual({
      type: "status",
      percentDone: 0,
      totalFiles: 1,
      filesDone: 0,
      totalBytes: 2,
      bytesDone: 0,
      secondsElapsed: 0,
      secondsRemaining: undefined,
      errorCount: 0,
      currentFiles: [],
    });
    expect(second?.bytesDone).toBe(69275672);
    expect(second?.currentFiles).toEqual(["/tmp/rx/big/r1"]);
  });

  it("takes 0.14's scan_finished 'status' for a verbose message, not progress", () => {
    const verbose = only(msgs, "verbose_status");
    expect(verbose.map((v) => v.action)).toEqual(["scan_finished", "new"]);
    expect(verbose[0]?.totalFiles).toBe(3);
  });

  it("describes PathError objects and empty {} errors", () => {
    const errors = only(msgs, "error");
    expect(errors).toEqual([
      {
        type: "error",
        message: "open /tmp/rx/s3/locked: permission denied",
        during: "archival",
        item: "/tmp/rx/s3/locked",
      },
      { type: "error", message: "unknown error", during: "scan", item: "/tmp/rx/s3/gone" },
    ]);
  });

  it("keeps plain text as log lines", () => {
    expect(only(msgs, "log")).toEqual([
      { type: "log", line: "Warning: at least one source file could not be read" },
    ]);
  });

  it("reads the summary with a short snapshot id and no packed size", () => {
    const [summary] = only(msgs, "summary");
    expect(summary).toMatchObject({
      filesNew: 2,
      dirsNew: 4,
      dataBlobs: 2,
      treeBlobs: 5,
      dataAdded: 2080,
      dataAddedPacked: undefined,
      totalFilesProcessed: 2,
      totalBytesProcessed: 4,
      snapshotId: "4cf8f169",
      backupStart: undefined,
      dryRun: false,
    });
  });
});

describe("restic 0.17+ backup --json", () => {
  const msgs = fixture("backup-0.17.jsonl");

  it("reads error.message, seconds and error_count", () => {
    const [status] = only(msgs, "status");
    expect(status).toMatchObject({ secondsElapsed: 1, secondsRemaining: 4, errorCount: 1 });
    expect(only(msgs, "error")[0]?.message).toBe("open /srv/data/locked: permission denied");
    expect(only(msgs, "verbose_status")[0]?.action).toBe("scan_finished");
  });

  it("reads the full id, packed size and start/end", () => {
    const [summary] = only(msgs, "summary");
    expect(summary?.snapshotId).toHaveLength(64);
    expect(summary?.dataAddedPacked).toBe(3001);
    expect(summary?.backupStart).toBe("2025-01-02T03:04:05.123456789+01:00");
    expect(summary?.totalDuration).toBe(1.25);
  });
});

describe("restic 0.19 backup --json", () => {
  const msgs = fixture("backup-0.19.jsonl");

  it("ignores unknown message types and fields", () => {
    expect(msgs.map((m) => m.type)).toEqual(["status", "summary"]);
    expect(only(msgs, "summary")[0]).toMatchObject({ filesChanged: 1, filesUnmodified: 2 });
  });
});

describe("parseBackupLine", () => {
  it("reads exit_error (stderr, 0.17+)", () => {
    expect(
      parseBackupLine(
        '{"message_type":"exit_error","code":10,"message":"repository does not exist"}',
      ),
    ).toEqual({ type: "exit_error", code: 10, message: "repository does not exist" });
  });

  it("treats broken JSON, arrays and terminal escapes defensively", () => {
    expect(parseBackupLine('{"message_type":"status",')).toEqual({
      type: "log",
      line: '{"message_type":"status",',
    });
    expect(parseBackupLine("[1,2]")).toEqual({ type: "log", line: "[1,2]" });
    expect(parseBackupLine("\x1b[2Ksignal interrupt received, cleaning up")).toEqual({
      type: "log",
      line: "signal interrupt received, cleaning up",
    });
    expect(parseBackupLine("   ")).toBeUndefined();
  });

  it("does not take wrong types for numbers or ids", () => {
    const m = parseBackupLine(
      '{"message_type":"summary","files_new":"7","snapshot_id":"not-hex","total_duration":null}',
    );
    expect(m).toMatchObject({
      type: "summary",
      filesNew: 0,
      snapshotId: undefined,
      totalDuration: 0,
    });
  });
});

describe("describeError", () => {
  it("handles the shapes restic has used", () => {
    expect(describeError({ message: "boom" })).toBe("boom");
    expect(describeError("plain")).toBe("plain");
    expect(describeError({})).toBe("unknown error");
    expect(describeError(null)).toBe("unknown error");
    expect(describeError({ Op: "lstat", Path: "/x", Err: 2 })).toBe(
      "lstat /x: no such file or directory",
    );
    expect(describeError({ Op: "read", Path: "/y", Err: 5 })).toBe("read /y: input/output error");
    expect(describeError({ Op: "read", Path: "/y", Err: 99999 })).toBe("read /y: errno 99999");
  });
});
