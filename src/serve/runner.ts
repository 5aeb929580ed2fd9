import { errorMessage } from "../errors.js";
import { run } from "../exec/index.js";
import type { HistoryStore } from "../history/index.js";
import { newRunId } from "../core/runid.js";
import type { RunEventBus, WireEvent } from "./bus.js";

/** How the daemon starts `snapback --json backup PLAN`: this very program, same config. */
export interface ChildCommand {
  file: string;
  /** Arguments before the command name (e.g. the script path and `--config FILE`). */
  args: string[];
}

export interface DaemonRun {
  runId: string;
  plan: string;
  dryRun: boolean;
  state: "queued" | "running" | "done";
  /** Who asked for it ("scheduler", a user name, a token name). */
  by: string;
  pid?: number;
  exitCode?: number | null;
  /** The child's last stderr lines (already redacted by the child's logger). */
  stderrTail: string[];
  abort: AbortController;
  finished: Promise<void>;
}

export class PlanBusyError extends Error {}

const STDERR_TAIL = 20;
/** restic and the child's own cleanup get this long after SIGINT before SIGKILL. */
const CANCEL_GRACE_MS = 120_000;

/**
 * Runs backups as child processes: a run that crashes never takes the daemon down, and a
 * daemon that dies leaves its runs to finish on their own (or to be reclaimed by the next
 * run, like any killed CLI run). At most `maxParallel` children at once; the rest queue.
 * Plans sharing a repository still take turns through the repository locks in the child.
 */
export class RunManager {
  private readonly runs = new Map<string, DaemonRun>();
  private readonly queue: DaemonRun[] = [];
  /** Resolves each run's `finished`. */
  private readonly settle = new Map<string, () => void>();
  private active = 0;

  constructor(
    private readonly options: {
      child: ChildCommand;
      maxParallel: number;
      bus: RunEventBus;
      history: HistoryStore;
      onError: (message: string) => void;
    },
  ) {}

  /** Is this run one of ours (its events come from our child's stdout)? */
  owns(runId: string): boolean {
    return this.runs.has(runId);
  }

  get(runId: string): DaemonRun | undefined {
    return this.runs.get(runId);
  }

  /** Runs of ours not yet done. */
  current(): DaemonRun[] {
    return [...this.runs.values()].filter((r) => r.state !== "done");
  }

  /** Queued or running here, or running in another process (per the history store). */
  isPlanBusy(plan: string): boolean {
    return (
      this.current().some((r) => r.plan === plan && !r.dryRun) ||
      this.options.history.runsInProgress().some((r) => r.plan === plan)
    );
  }

  /** Starts (or queues) a run; throws PlanBusyError when the plan is already running. */
  start(plan: string, opts: { dryRun?: boolean; by: string }): DaemonRun {
    const dryRun = opts.dryRun ?? false;
    if (!dryRun && this.isPlanBusy(plan)) throw new PlanBusyError(`plan "${plan}" is running`);
    let done!: () => void;
    const r: DaemonRun = {
      runId: newRunId(),
      plan,
      dryRun,
      state: "queued",
      by: opts.by,
      stderrTail: [],
      abort: new AbortController(),
      finished: new Promise<void>((resolve) => (done = resolve)),
    };
    this.runs.set(r.runId, r);
    void r.finished.then(() => this.forgetLater(r.runId));
    this.queue.push(r);
    this.settle.set(r.runId, done);
    this.pump();
    return r;
  }

  /**
   * Runs another `snapback --json COMMAND` (snapshots, check, prune, restore) as a child and
   * returns its JSON document: the same code path, isolation and secret handling as the CLI.
   */
  async cli(
    args: string[],
    signal?: AbortSignal,
  ): Promise<{ exitCode: number | null; doc: unknown; error: string | undefined }> {
    const { file, args: pre } = this.options.child;
    const r = await run(file, [...pre, "--json", ...args], {
      reject: false,
      killSignal: "SIGINT",
      killGraceMs: CANCEL_GRACE_MS,
      ...(signal ? { signal } : {}),
    });
    let doc: unknown;
    try {
      doc = JSON.parse(r.stdout) as unknown;
    } catch {
      try {
        doc = r.stdout
          .trim()
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l) as unknown);
      } catch {
        doc = null;
      }
    }
    const error = r.stderr
      .split("\n")
      .filter((l) => l.startsWith("error: "))
      .at(-1)
      ?.slice("error: ".length);
    return { exitCode: r.exitCode, doc, error };
  }

  /** Stops a run like SIGTERM stops the CLI. False when it is not ours or already done. */
  cancel(runId: string): boolean {
    const r = this.runs.get(runId);
    if (!r || r.state === "done") return false;
    if (r.state === "queued") {
      this.queue.splice(this.queue.indexOf(r), 1);
      this.publish(r, {
        type: "result",
        status: "interrupted",
        error: "cancelled before it started",
      });
      this.markDone(r);
      return true;
    }
    r.abort.abort();
    return true;
  }

  /** Cancels everything and waits until every child has exited (daemon shutdown). */
  async stopAll(): Promise<void> {
    const all = this.current();
    for (const r of all) this.cancel(r.runId);
    await Promise.all(all.map((r) => r.finished));
  }

  private markDone(r: DaemonRun): void {
    r.state = "done";
    this.settle.get(r.runId)?.();
    this.settle.delete(r.runId);
  }

  private pump(): void {
    while (this.active < this.options.maxParallel && this.queue.length > 0) {
      const r = this.queue.shift();
      if (r) void this.runChild(r);
    }
  }

  private async runChild(r: DaemonRun): Promise<void> {
    this.active++;
    r.state = "running";
    let sawResult = false;
    let sawStart = false;
    const { file, args } = this.options.child;
    try {
      const result = await run(
        file,
        [
          ...args,
          "--json",
          "backup",
          r.plan,
          "--run-id",
          r.runId,
          ...(r.dryRun ? ["--dry-run"] : []),
        ],
        {
          signal: r.abort.signal,
          // Like Ctrl-C: the child and restic both get SIGINT (restic must not get SIGTERM).
          killSignal: "SIGINT",
          killGraceMs: CANCEL_GRACE_MS,
          reject: false,
          maxBuffer: 64 * 1024,
          onSpawn: (child) => {
            if (child.pid !== undefined) r.pid = child.pid;
          },
          onStdoutLine: (line) => {
            const event = parseEvent(line);
            if (!event) return;
            if (event.type === "start") sawStart = true;
            if (event.type === "result") sawResult = true;
            this.publish(r, event);
          },
          onStderrLine: (line) => {
            r.stderrTail.push(line);
            if (r.stderrTail.length > STDERR_TAIL) r.stderrTail.shift();
          },
        },
      );
      r.exitCode = result.exitCode;
      if (!sawResult) this.synthesizeResult(r, sawStart, result.exitCode, result.aborted);
    } catch (e) {
      this.options.onError(`run ${r.runId} of plan "${r.plan}": ${errorMessage(e)}`);
      if (!sawResult) this.synthesizeResult(r, sawStart, null, r.abort.signal.aborted);
    } finally {
      this.active--;
      this.markDone(r);
      this.pump();
    }
  }

  /**
   * The child ended without a result (bad config, crash, killed): the run still gets one, on
   * the bus and in the history, so nobody waits for it forever.
   */
  private synthesizeResult(
    r: DaemonRun,
    sawStart: boolean,
    exitCode: number | null,
    aborted: boolean,
  ): void {
    // A dry run prints its plan, not run events: exit 0 is its success.
    const status =
      aborted || exitCode === 130 ? "interrupted" : exitCode === 0 ? "success" : "failed";
    const error =
      r.stderrTail
        .filter((l) => l.startsWith("error: "))
        .at(-1)
        ?.slice("error: ".length) ?? `snapback backup exited with ${String(exitCode)}`;
    if (!sawStart) this.publish(r, { type: "start", sources: [], repositories: [] });
    if (!r.dryRun) {
      try {
        const h = this.options.history;
        if (h.get(r.runId) === undefined)
          h.startRun({
            runId: r.runId,
            plan: r.plan,
            repositories: [],
            startedAt: new Date(),
            pid: r.pid ?? 0,
            pidStartTime: "",
          });
        const rec = h.get(r.runId);
        if (rec?.status === "running" || rec?.status === "interrupted")
          h.finishRun(r.runId, {
            status,
            endedAt: new Date(),
            snapshotIds: {},
            summaries: {},
            warnings: [],
            error,
            logTail: r.stderrTail,
          });
      } catch (e) {
        this.options.onError(`history: ${errorMessage(e)}`);
      }
    }
    this.publish(r, { type: "result", status, error, exit_code: exitCode });
  }

  private publish(r: DaemonRun, event: WireEvent): void {
    this.options.bus.publish(r.runId, r.plan, event, "daemon");
  }

  /** Done runs stay a while so that late history-watcher reads are still recognised as ours. */
  private forgetLater(runId: string): void {
    setTimeout(() => this.runs.delete(runId), 60_000).unref();
  }
}

function parseEvent(line: string): WireEvent | undefined {
  try {
    const v = JSON.parse(line) as unknown;
    if (v && typeof v === "object" && typeof (v as { type?: unknown }).type === "string")
      return v as WireEvent;
  } catch {
    // Not an event (the child's stdout carries JSON only, but be lenient).
  }
  return undefined;
}
