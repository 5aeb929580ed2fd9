import { PassThrough, Transform, type Readable, type Writable } from "node:stream";
import { redactText } from "../../config/secrets.js";
import { errorMessage, SnapbackError } from "../../errors.js";
import { ProcessError, run } from "../../exec/index.js";
import type {
  EngineSnapshot,
  StreamBackupRequest,
  StreamBackupSummary,
  StreamCommand,
  StreamRestoreRequest,
  StreamRestoreResult,
  StreamSink,
  StreamSource,
} from "../types.js";
import { probeRestic, stdinFilenameFor } from "./binary.js";
import {
  DEFAULT_KILL_GRACE_MS,
  resticBinaryOf,
  resticRepository,
  runRestic,
  type ResticOptions,
  type ResticTarget,
} from "./command.js";
import { parsedOutput, ResticError } from "./errors.js";
import { clearStaleLocks } from "./locks.js";
import { parseBackupLine, type SummaryMessage } from "./messages.js";
import { listTargetSnapshots, parseSnapshots } from "./snapshots.js";

/**
 * restic's stdin and stdout as streams: `backup --stdin` stores what a program writes (a
 * database dump) and `dump` gives it back to a program or a file. The bytes flow from one
 * process to the other through a bounded buffer with backpressure; nothing holds the dump.
 *
 * The receiving side sees end-of-file only after the sending side has EXITED successfully.
 * A dump that fails halfway therefore never becomes a snapshot: restic is still waiting for
 * more input when the failure is known, gets SIGINT, and commits nothing. The reverse holds
 * too: a restore program whose input broke off is stopped, never fed a truncated end.
 */

/** The buffer between the two processes (they block on a full pipe, not memory). */
const PIPE_BUFFER = 1024 * 1024;

export interface StdinOptions extends ResticOptions {
  cacheDir: string;
}

/** The argv of a stream backup; the path and tags come from the caller, nothing secret. */
export function stdinBackupArgs(
  req: Pick<StreamBackupRequest, "filename" | "host" | "tags">,
): string[] {
  const args = [
    "backup",
    "--json",
    "--stdin",
    `--stdin-filename=${req.filename}`,
    `--host=${req.host}`,
  ];
  for (const tag of req.tags) args.push(`--tag=${tag}`);
  return args;
}

/** Stores the output of `req.source` as a snapshot holding one file, `req.filename`. */
export async function backupStdin(
  target: ResticTarget,
  req: StreamBackupRequest,
  options: StdinOptions,
): Promise<StreamBackupSummary> {
  if (!req.filename.startsWith("/")) {
    throw new SnapbackError(`stream backup: ${req.filename} is not an absolute path`);
  }
  const started = performance.now();
  const binary = await probeRestic(resticBinaryOf(resticRepository(target), options));
  const storedAs = stdinFilenameFor(binary, req.filename);
  let summary: SummaryMessage | undefined;
  const onLine = (line: string): void => {
    const msg = parseBackupLine(line);
    if (msg?.type === "summary") summary = msg;
  };
  let bytes: number;
  try {
    ({ bytes } = await connect(
      req.signal,
      producerFor(req.source),
      req.source.label,
      (input, signal) => {
        // restic reads from its own feed, so that its input can be ended alone (below) while
        // the shared pipe keeps draining whatever the stopped dump program still flushes.
        const feed = new PassThrough();
        input.pipe(feed);
        return runRestic(target, stdinBackupArgs({ ...req, filename: storedAs }), {
          ...options,
          action: "backup",
          env: { ...options.env, ...req.env },
          signal,
          stdin: feed,
          killGraceMs: options.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
          onStdoutLine: onLine,
          // restic 0.18 handles SIGINT only once its blocked read of stdin returns, and the
          // stopped dump program writes nothing more: without an end restic waits forever.
          // The end comes only after restic said it got the signal, when its context is
          // cancelled, so the truncated input can never be saved as a snapshot.
          onStderrLine: (line) => {
            if (signal.aborted && line.includes("signal interrupt received")) {
              input.unpipe(feed);
              feed.end();
            }
          },
        });
      },
    ));
  } catch (e) {
    // A dump that fails at once can stop restic while it is still opening the repository,
    // and restic 0.14 may then leave its lock behind. The lock's process is gone, so
    // restic's own rule (`restic unlock`) removes it; live locks stay.
    if (!(e instanceof ResticError) && !req.signal.aborted) {
      await clearStaleLocks(target, options).catch(() => undefined);
    }
    throw e;
  }
  const id = summary?.snapshotId;
  if (id === undefined) {
    throw new ResticError(
      "other",
      target.repoName,
      `restic backup --stdin for repository "${target.repoName}" reported no snapshot`,
    );
  }
  return {
    snapshotId: await fullId(target, id, options),
    bytes,
    dataAdded: summary?.dataAdded ?? 0,
    durationS: (performance.now() - started) / 1000,
    ...(storedAs === req.filename ? {} : { storedAs }),
  };
}

/** Streams `req.filename` of a snapshot (`restic dump`) into `req.sink`. */
export async function dumpToSink(
  target: ResticTarget,
  req: StreamRestoreRequest,
  options: StdinOptions,
): Promise<StreamRestoreResult> {
  const args = ["dump", req.snapshotId, req.filename];
  const label = `restic dump of ${req.filename} from repository "${target.repoName}"`;
  const { bytes } = await connect(
    req.signal,
    // stdout streamed (binary) instead of captured: otherwise like every restic command.
    (out, signal) =>
      runRestic(target, args, {
        ...options,
        action: args[0] ?? "dump",
        signal,
        killGraceMs: options.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
        stdoutTo: out,
      }).then(() => undefined),
    label,
    consumerFor(req.sink),
  );
  return { bytes };
}

/** Snapshots carrying every one of `tags`, oldest first. */
export async function listTagged(
  target: ResticTarget,
  tags: string[],
  options: StdinOptions & { signal?: AbortSignal },
): Promise<EngineSnapshot[]> {
  const args = ["snapshots", "--json"];
  if (tags.length > 0) args.push(`--tag=${tags.join(",")}`);
  const r = await runRestic(target, args, { ...options, action: "snapshots" });
  return parsedOutput(target.repoName, "snapshots", () => parseSnapshots(r.stdout));
}

type Producer = (out: Writable, signal: AbortSignal) => Promise<unknown>;
type Consumer = (input: Readable, signal: AbortSignal) => Promise<unknown>;

/**
 * Runs a producer and a consumer joined by a bounded pipe. The consumer's input ends only
 * once the producer has succeeded; whichever side fails first stops the other and its error
 * is the one reported.
 */
async function connect(
  outer: AbortSignal,
  produce: Producer,
  producerLabel: string,
  consume: Consumer,
): Promise<{ bytes: number }> {
  let bytes = 0;
  const pipe = new Transform({
    highWaterMark: PIPE_BUFFER,
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  const stopProducer = new AbortController();
  const stopConsumer = new AbortController();
  let first: "producer" | "consumer" | "early" | undefined;
  let producerDone = false;

  const producing = produce(pipe, AbortSignal.any([outer, stopProducer.signal])).then(
    () => {
      producerDone = true;
      pipe.end();
    },
    (e: unknown) => {
      producerDone = true;
      first ??= "producer";
      stopConsumer.abort();
      throw e;
    },
  );
  // A producer that is stopped must still be able to flush: its pipe is paused while full,
  // and a child whose stdout is not read to the end never reports its exit.
  const discard = (): void => {
    if (producerDone) return;
    stopProducer.abort();
    pipe.unpipe();
    pipe.resume();
  };
  const consuming = consume(pipe, AbortSignal.any([outer, stopConsumer.signal])).then(
    () => {
      if (!producerDone) first ??= "early";
      discard();
    },
    (e: unknown) => {
      first ??= "consumer";
      discard();
      throw e;
    },
  );
  const [p, c] = await Promise.allSettled([producing, consuming]);
  const failed = p.status === "rejected" || c.status === "rejected";
  if (failed && outer.aborted)
    throw new SnapbackError("interrupted", { exitCode: 130, cause: outer.reason });
  if (first === "early") {
    throw new SnapbackError(
      `the receiving program finished before reading all of ${producerLabel}`,
    );
  }
  if (p.status === "rejected" && (first === "producer" || c.status === "fulfilled")) throw p.reason;
  if (c.status === "rejected") throw c.reason;
  if (p.status === "rejected") throw p.reason;
  return { bytes };
}

function producerFor(source: StreamSource): Producer {
  if (source.kind === "readable") {
    return async (out, signal) => {
      const input = source.open();
      try {
        await pump(input, out, false, signal);
      } catch (e) {
        input.destroy();
        throw new SnapbackError(`${source.label}: ${errorMessage(e)}`, { cause: e });
      }
    };
  }
  return async (out, signal) => {
    try {
      await run(source.file, source.args, {
        ...commandOptions(source),
        stdoutTo: out,
        signal,
      });
    } catch (e) {
      throw commandFailure(source, e);
    }
  };
}

function consumerFor(sink: StreamSink): Consumer {
  if (sink.kind === "writable") {
    return async (input, signal) => {
      try {
        await pump(input, sink.stream, true, signal);
      } catch (e) {
        sink.stream.destroy();
        throw new SnapbackError(`${sink.label}: ${errorMessage(e)}`, { cause: e });
      }
    };
  }
  return async (input, signal) => {
    try {
      await run(sink.file, sink.args, { ...commandOptions(sink), stdin: input, signal });
    } catch (e) {
      throw commandFailure(sink, e);
    }
  };
}

/**
 * Pipes `from` into `to` until `from` ends (and, with `end`, `to` has finished). Unlike
 * stream.pipeline it destroys neither stream on failure: the pipe between the two programs
 * must stay usable so that the other side can be drained and stopped.
 */
function pump(from: Readable, to: Writable, end: boolean, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (e?: Error): void => {
      signal.removeEventListener("abort", onAbort);
      from.off("error", done);
      to.off("error", done);
      from.off("end", onEnd);
      to.off("finish", onFinish);
      if (e === undefined) resolve();
      else {
        from.unpipe(to);
        reject(e);
      }
    };
    const onAbort = (): void => done(new Error("stopped"));
    const onEnd = (): void => {
      if (!end) done();
    };
    const onFinish = (): void => done();
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener("abort", onAbort, { once: true });
    from.once("error", done);
    to.once("error", done);
    from.once("end", onEnd);
    to.once("finish", onFinish);
    from.pipe(to, { end });
  });
}

function commandOptions(cmd: StreamCommand): { env?: Record<string, string>; cwd: string } {
  return { ...(cmd.env ? { env: cmd.env } : {}), cwd: cmd.cwd ?? "/" };
}

/** A failed dump or load program, its own words (secrets masked) in the message. */
function commandFailure(cmd: StreamCommand, e: unknown): SnapbackError {
  if (!(e instanceof ProcessError))
    return new SnapbackError(`${cmd.label}: ${String(e)}`, { cause: e });
  if (e.spawnCode === "ENOENT") {
    return new SnapbackError(`${cmd.label}: ${cmd.file} is not installed (not found on PATH)`);
  }
  if (e.spawnCode !== undefined)
    return new SnapbackError(`${cmd.label}: ${cmd.file} could not start (${e.spawnCode})`);
  const how = e.signal ? `killed by ${e.signal}` : `exit code ${e.exitCode_}`;
  const tail = redactText(e.stderrTail(5), cmd.secrets ?? []).trim();
  return new SnapbackError(`${cmd.label} failed (${how})${tail ? `: ${tail}` : ""}`);
}

/** restic 0.14 reports the short id; the snapshot exists either way, so a failed lookup keeps it. */
async function fullId(target: ResticTarget, id: string, options: StdinOptions): Promise<string> {
  if (id.length === 64) return id;
  try {
    const found = await listTargetSnapshots(target, { ...options, ids: [id], noLock: true });
    return found.find((s) => s.id.startsWith(id))?.id ?? id;
  } catch {
    return id;
  }
}
