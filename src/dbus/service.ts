import { errorMessage, SnapbackError } from "../errors.js";
import { log, redact } from "../log.js";
import type { RunEvent, RunStatus } from "../core/events.js";
import {
  connectSystemBus,
  DBusError,
  ERR,
  readVariant,
  type BusConnection,
  type IncomingCall,
  type Reply,
} from "./adapter.js";
import { mayControl } from "./authorize.js";
import {
  introspect,
  MANAGER_XML,
  RUN_PROPERTIES,
  RUN_XML,
  type RunProperty,
} from "./introspection.js";
import {
  BUS_NAME,
  INTROSPECTABLE_IFACE,
  MANAGER_IFACE,
  MANAGER_PATH,
  PROPERTIES_IFACE,
  RUN_IFACE,
  RUNS_PATH,
  runPath,
} from "./names.js";

/** What the owner of the name (a CLI run or the daemon) lets the bus do. */
export interface BusOwner {
  /** The configured plans, for ListPlans and StartBackup's check. */
  listPlans(): string[];
  /** Stops a run the way SIGTERM does (status interrupted, cleanup done). */
  cancel(runId: string): void | Promise<void>;
  /** Starts a run and returns its run id; only the daemon can (absent: StartBackup is refused). */
  startBackup?: (plan: string, options: { dryRun: boolean }) => Promise<string>;
  /** `[dbus] allow_group`: besides root, who may StartBackup, Cancel and Stop. */
  allowGroup?: string | undefined;
  /** `[dbus] broadcast_file_names`: fill Progress.current_files (off: everyone on the bus would see them). */
  broadcastFileNames?: boolean;
  /** How long a finished run's object stays readable (default 60 s). */
  lingerMs?: number;
  /** Minimum time between two PropertiesChanged/Progress of one run (default 250 ms: ~4/s). */
  throttleMs?: number;
  /** Told when a finished run's object is gone from the bus. */
  onRunRemoved?: (runId: string) => void;
}

/** A source of run events the daemon hands to `publishRuns`: subscribe, get an unsubscribe back. */
export type RunEventSource = (listener: (event: RunEvent) => void) => () => void;

export type OpenBusResult =
  | { kind: "owned"; service: BusService }
  | { kind: "taken" }
  | { kind: "unavailable"; reason: string };

type State = "running" | RunStatus;

interface RunObject {
  runId: string;
  plan: string;
  path: string;
  props: {
    RunId: string;
    Plan: string;
    State: State;
    Repository: string;
    PercentDone: number;
    FilesDone: bigint;
    TotalFiles: bigint;
    BytesDone: bigint;
    TotalBytes: bigint;
    SecondsElapsed: bigint;
    SecondsRemaining: bigint;
    StartedAt: bigint;
  };
  dirty: Set<RunProperty>;
  /** The latest progress not yet sent as igotchuu's Progress signal. */
  pendingProgress: unknown[] | undefined;
  errorCount: number;
  lastFlush: number;
  timer: NodeJS.Timeout | undefined;
  removal: NodeJS.Timeout | undefined;
}

const PROP_TYPES = new Map<string, string>(RUN_PROPERTIES);
const CONTROL_ERROR_HINT = "only root and members of [dbus] allow_group may";

/**
 * Connects to the system bus and takes `org.snapback.Snapback1` (DO_NOT_QUEUE, primary owner
 * only). Never throws: without a bus, or with the name taken, the caller goes on without it.
 */
export async function openBusService(owner: BusOwner): Promise<OpenBusResult> {
  let bus: BusConnection;
  try {
    bus = await connectSystemBus();
  } catch (e) {
    return { kind: "unavailable", reason: `no system bus: ${errorMessage(e)}` };
  }
  try {
    const reply = await bus.requestName(BUS_NAME);
    if (reply !== "primary") {
      await bus[Symbol.asyncDispose]();
      return { kind: "taken" };
    }
  } catch (e) {
    await bus[Symbol.asyncDispose]();
    const reason =
      e instanceof DBusError && e.type === ERR.accessDenied
        ? `not allowed to own ${BUS_NAME} (is ${BUS_NAME}.conf installed in /usr/share/dbus-1/system.d? see snapback doctor)`
        : `could not own ${BUS_NAME}: ${errorMessage(e)}`;
    return { kind: "unavailable", reason };
  }
  return { kind: "owned", service: new BusService(bus, owner) };
}

/**
 * The Manager object and one Run object per run, fed with the runs' events. Run objects
 * appear at the run's start and stay `lingerMs` after its end so that a late client can
 * still read the final State.
 */
export class BusService implements AsyncDisposable {
  private readonly runs = new Map<string, RunObject>();
  /** The running run of each plan: progress events name the plan, not the run. */
  private readonly byPlan = new Map<string, RunObject>();
  private readonly unsubscribers: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly bus: BusConnection,
    private readonly owner: BusOwner,
  ) {
    bus.onCall((call) => this.dispatch(call));
    bus.onLost((e) => log.verbose(`lost the system bus connection: ${errorMessage(e)}`));
  }

  /** Publishes every event of `source` until the service closes. */
  publishRuns(source: RunEventSource): Disposable {
    const unsubscribe = source((e) => this.publish(e));
    this.unsubscribers.push(unsubscribe);
    return { [Symbol.dispose]: unsubscribe };
  }

  /** Object paths of the runs currently shown. */
  runPaths(): string[] {
    return [...this.runs.values()].map((r) => r.path);
  }

  publish(event: RunEvent): void {
    if (this.closed) return;
    switch (event.type) {
      case "start": {
        const run = this.ensureRun(event.run_id, event.plan);
        this.bus.signal(MANAGER_PATH, MANAGER_IFACE, "RunStarted", "os", [run.path, run.plan]);
        return;
      }
      case "backup_start": {
        const run = this.byPlan.get(event.plan);
        if (run) this.set(run, { Repository: event.repository });
        // igotchuu sends BackupStarted as restic starts (after the snapshots), once per
        // restic run: here once per repository, each followed by its BackupComplete.
        this.bus.signal(MANAGER_PATH, MANAGER_IFACE, "BackupStarted", "", []);
        return;
      }
      case "progress": {
        const run = this.byPlan.get(event.plan);
        if (!run) return;
        const remaining = u64(event.seconds_remaining ?? 0);
        const files =
          this.owner.broadcastFileNames === true ? (event.current_files ?? []).map(redact) : [];
        run.pendingProgress = [
          u64(event.seconds_elapsed),
          remaining,
          event.percent_done,
          u64(event.total_files),
          u64(event.files_done),
          u64(event.total_bytes),
          u64(event.bytes_done),
          u64(run.errorCount),
          files,
        ];
        // After pendingProgress: set() may flush at once, and must send this Progress then.
        this.set(run, {
          Repository: event.repository,
          PercentDone: Math.min(1, Math.max(0, event.percent_done)),
          FilesDone: u64(event.files_done),
          TotalFiles: u64(event.total_files),
          BytesDone: u64(event.bytes_done),
          TotalBytes: u64(event.total_bytes),
          SecondsElapsed: u64(event.seconds_elapsed),
          SecondsRemaining: remaining,
        });
        return;
      }
      case "warning":
        if (event.repository !== undefined) {
          const run = this.byPlan.get(event.plan);
          if (run) run.errorCount++;
        }
        return;
      case "error": {
        const run = this.byPlan.get(event.plan);
        if (run) run.errorCount++;
        this.bus.signal(MANAGER_PATH, MANAGER_IFACE, "Error", "sss", [
          redact(event.message),
          event.repository === undefined ? "run" : `backup to ${event.repository}`,
          event.plan,
        ]);
        return;
      }
      case "summary": {
        const run = this.byPlan.get(event.plan);
        if (run) {
          // This repository is done: show it at 100 % even if restic was too quick to report
          // progress, so that every client sees the run's numbers before BackupComplete.
          const files = u64(event.total_files_processed);
          const bytes = u64(event.total_bytes_processed);
          run.pendingProgress = [
            run.props.SecondsElapsed,
            0n,
            1,
            files,
            files,
            bytes,
            bytes,
            u64(run.errorCount),
            [],
          ];
          this.set(run, {
            Repository: event.repository,
            PercentDone: 1,
            FilesDone: files,
            TotalFiles: files,
            BytesDone: bytes,
            TotalBytes: bytes,
            SecondsRemaining: 0n,
          });
          this.flush(run);
        }
        this.bus.signal(MANAGER_PATH, MANAGER_IFACE, "BackupComplete", "ttttttxxtttdsb", [
          u64(event.files_new),
          u64(event.files_changed),
          u64(event.files_unmodified),
          u64(event.dirs_new),
          u64(event.dirs_changed),
          u64(event.dirs_unmodified),
          BigInt(Math.trunc(event.data_blobs)),
          BigInt(Math.trunc(event.tree_blobs ?? 0)),
          u64(event.data_added),
          u64(event.total_files_processed),
          u64(event.total_bytes_processed),
          event.duration_s,
          event.snapshot_id,
          false,
        ]);
        return;
      }
      case "result": {
        const run = this.runs.get(event.run_id) ?? this.byPlan.get(event.plan);
        if (!run) return;
        if (this.byPlan.get(run.plan) === run) this.byPlan.delete(run.plan);
        this.set(run, { State: event.status });
        this.flush(run);
        this.bus.signal(MANAGER_PATH, MANAGER_IFACE, "RunFinished", "oss", [
          run.path,
          run.plan,
          event.status,
        ]);
        run.removal = setTimeout(() => {
          this.runs.delete(run.runId);
          this.owner.onRunRemoved?.(run.runId);
        }, this.owner.lingerMs ?? 60_000);
        run.removal.unref();
        return;
      }
      default:
        return;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.closed) return;
    for (const u of this.unsubscribers.splice(0)) u();
    for (const run of this.runs.values()) {
      this.flush(run);
      clearTimeout(run.timer);
      clearTimeout(run.removal);
    }
    this.closed = true;
    this.runs.clear();
    this.byPlan.clear();
    await this.bus.releaseName(BUS_NAME).catch(() => undefined);
    await this.bus[Symbol.asyncDispose]();
  }

  private ensureRun(runId: string, plan: string): RunObject {
    let run = this.runs.get(runId);
    if (!run) {
      run = {
        runId,
        plan,
        path: runPath(runId),
        props: {
          RunId: runId,
          Plan: plan,
          State: "running",
          Repository: "",
          PercentDone: 0,
          FilesDone: 0n,
          TotalFiles: 0n,
          BytesDone: 0n,
          TotalBytes: 0n,
          SecondsElapsed: 0n,
          SecondsRemaining: 0n,
          StartedAt: BigInt(Date.now()) * 1000n,
        },
        dirty: new Set(),
        pendingProgress: undefined,
        errorCount: 0,
        lastFlush: 0,
        timer: undefined,
        removal: undefined,
      };
      this.runs.set(runId, run);
    }
    this.byPlan.set(plan, run);
    return run;
  }

  private set(run: RunObject, values: Partial<RunObject["props"]>): void {
    for (const [k, v] of Object.entries(values) as [RunProperty, unknown][]) {
      if (run.props[k] === v) continue;
      (run.props as Record<RunProperty, unknown>)[k] = v;
      run.dirty.add(k);
    }
    if (values.State !== undefined) this.flush(run);
    else this.schedule(run);
  }

  /** At most one PropertiesChanged (and one Progress) per `throttleMs` per run. */
  private schedule(run: RunObject): void {
    if (run.timer !== undefined || this.closed) return;
    const throttle = this.owner.throttleMs ?? 250;
    const wait = run.lastFlush + throttle - performance.now();
    if (wait <= 0) {
      this.flush(run);
      return;
    }
    run.timer = setTimeout(() => {
      run.timer = undefined;
      this.flush(run);
    }, wait);
    run.timer.unref();
  }

  private flush(run: RunObject): void {
    clearTimeout(run.timer);
    run.timer = undefined;
    if (run.dirty.size === 0 && run.pendingProgress === undefined) return;
    run.lastFlush = performance.now();
    if (run.dirty.size > 0) {
      const changed: Record<string, unknown> = {};
      for (const k of run.dirty) changed[k] = this.typed(k, run.props[k]);
      run.dirty.clear();
      this.bus.signal(run.path, PROPERTIES_IFACE, "PropertiesChanged", "sa{sv}as", [
        RUN_IFACE,
        changed,
        [],
      ]);
    }
    if (run.pendingProgress !== undefined) {
      const body = run.pendingProgress;
      run.pendingProgress = undefined;
      this.bus.signal(MANAGER_PATH, MANAGER_IFACE, "Progress", "ttdtttttas", body);
    }
  }

  private typed(name: RunProperty, value: unknown): unknown {
    return this.bus.variant({ signature: PROP_TYPES.get(name) ?? "s", value });
  }

  private dispatch(call: IncomingCall): Promise<Reply> | undefined {
    const handle = this.route(call);
    if (handle === undefined) return undefined;
    return handle().catch((e: unknown) => {
      if (e instanceof DBusError) throw e;
      if (e instanceof SnapbackError) throw new DBusError(ERR.failed, redact(e.message));
      log.warn(`D-Bus ${call.iface}.${call.member} failed: ${errorMessage(e)}`);
      throw new DBusError(ERR.failed, "internal error");
    });
  }

  private route(call: IncomingCall): (() => Promise<Reply>) | undefined {
    if (call.iface === INTROSPECTABLE_IFACE && call.member === "Introspect")
      return () => this.introspect(call.path);
    if (call.path === MANAGER_PATH) {
      if (call.iface === PROPERTIES_IFACE) return () => this.properties(call, undefined);
      if (call.iface !== MANAGER_IFACE && call.iface !== "") return undefined;
      switch (call.member) {
        case "ListPlans":
          return () => Promise.resolve({ signature: "as", body: [this.owner.listPlans()] });
        case "ListRuns":
          return () => Promise.resolve({ signature: "ao", body: [this.runPaths()] });
        case "StartBackup":
          return () => this.startBackup(call);
        case "Stop":
          return () => this.stop(call);
        default:
          return undefined;
      }
    }
    const run = [...this.runs.values()].find((r) => r.path === call.path);
    if (!run) {
      if (call.path.startsWith(`${RUNS_PATH}/`))
        return () => Promise.reject(new DBusError(ERR.unknownObject, `no run at ${call.path}`));
      return undefined;
    }
    if (call.iface === PROPERTIES_IFACE) return () => this.properties(call, run);
    if ((call.iface === RUN_IFACE || call.iface === "") && call.member === "Cancel")
      return () => this.cancel(call, run);
    return undefined;
  }

  private introspect(path: string): Promise<Reply> {
    const xml = (interfaces: string[], children: string[]): Promise<Reply> =>
      Promise.resolve({ signature: "s", body: [introspect(interfaces, children)] });
    const runIds = [...this.runs.values()].map((r) => r.path.slice(RUNS_PATH.length + 1));
    if (path === MANAGER_PATH) return xml([MANAGER_XML], runIds.length > 0 ? ["runs"] : []);
    if (path === RUNS_PATH) return xml([], runIds);
    if (this.runPaths().includes(path)) return xml([RUN_XML], []);
    // The parents of our objects, so that `busctl tree` finds them from "/".
    const parts = MANAGER_PATH.split("/").slice(1);
    for (let i = 0; i < parts.length; i++) {
      const prefix = `/${parts.slice(0, i).join("/")}`;
      if (path === prefix) return xml([], [parts[i] ?? ""]);
    }
    return Promise.reject(new DBusError(ERR.unknownObject, `no object at ${path}`));
  }

  private properties(call: IncomingCall, run: RunObject | undefined): Promise<Reply> {
    const [iface, name] = call.body as [unknown, unknown];
    const ownIface = run ? RUN_IFACE : MANAGER_IFACE;
    if (typeof iface !== "string" || (iface !== ownIface && iface !== ""))
      return Promise.reject(
        new DBusError(ERR.unknownInterface, `no interface ${String(iface)} at ${call.path}`),
      );
    switch (call.member) {
      case "GetAll": {
        const all: Record<string, unknown> = {};
        if (run) for (const [k] of RUN_PROPERTIES) all[k] = this.typed(k, run.props[k]);
        return Promise.resolve({ signature: "a{sv}", body: [all] });
      }
      case "Get": {
        if (!run || typeof name !== "string" || !PROP_TYPES.has(name))
          return Promise.reject(
            new DBusError(ERR.unknownProperty, `no property ${String(name)} in ${ownIface}`),
          );
        const key = name as RunProperty;
        return Promise.resolve({ signature: "v", body: [this.typed(key, run.props[key])] });
      }
      case "Set":
        return Promise.reject(
          new DBusError(ERR.propertyReadOnly, `the properties of ${ownIface} are read-only`),
        );
      default:
        return Promise.reject(new DBusError(ERR.unknownMethod, `no method ${call.member}`));
    }
  }

  private async authorize(call: IncomingCall, what: string): Promise<number> {
    const uid = await this.bus.callerUid(call.sender);
    if (!(await mayControl(uid, this.owner.allowGroup)))
      throw new DBusError(
        ERR.accessDenied,
        `uid ${uid} may not ${what}: ${CONTROL_ERROR_HINT} ${what}`,
      );
    return uid;
  }

  private async startBackup(call: IncomingCall): Promise<Reply> {
    if (call.signature !== "sa{sv}")
      throw new DBusError(
        ERR.invalidArgs,
        `StartBackup takes (s plan, a{sv} options), got (${call.signature})`,
      );
    await this.authorize(call, "start backups");
    const [plan, options] = call.body as [string, Record<string, unknown>];
    if (!this.owner.listPlans().includes(plan))
      throw new DBusError(
        ERR.invalidArgs,
        `unknown plan "${plan}" (defined: ${this.owner.listPlans().join(", ") || "none"})`,
      );
    let dryRun = false;
    for (const [key, raw] of Object.entries(options)) {
      const v = readVariant(raw);
      if (key === "dry_run" && v?.signature === "b") dryRun = v.value === true;
      else
        throw new DBusError(ERR.invalidArgs, `unknown option "${key}" (known: dry_run of type b)`);
    }
    if (!this.owner.startBackup)
      throw new DBusError(
        ERR.notSupported,
        "StartBackup needs the snapback daemon (snapback serve); the name is held by a single `snapback backup` run",
      );
    const runId = await this.owner.startBackup(plan, { dryRun });
    return { signature: "o", body: [this.ensureRunIfAbsent(runId, plan).path] };
  }

  private ensureRunIfAbsent(runId: string, plan: string): RunObject {
    return this.runs.get(runId) ?? this.ensureRun(runId, plan);
  }

  private async stop(call: IncomingCall): Promise<Reply> {
    const uid = await this.authorize(call, "stop backups");
    const running = [...this.runs.values()].filter((r) => r.props.State === "running");
    for (const r of running) {
      log.warn(`run ${r.runId} of plan ${r.plan}: Stop() over D-Bus by uid ${uid}`);
      await this.owner.cancel(r.runId);
    }
    return { signature: "", body: [] };
  }

  private async cancel(call: IncomingCall, run: RunObject): Promise<Reply> {
    const uid = await this.authorize(call, "cancel backups");
    if (run.props.State !== "running")
      throw new DBusError(ERR.failed, `run ${run.runId} has already finished (${run.props.State})`);
    log.warn(`run ${run.runId} of plan ${run.plan}: Cancel() over D-Bus by uid ${uid}`);
    await this.owner.cancel(run.runId);
    return { signature: "", body: [] };
  }
}

/** D-Bus t: a non-negative integer as bigint (restic's numbers are JSON doubles). */
function u64(n: number): bigint {
  return Number.isFinite(n) && n > 0 ? BigInt(Math.trunc(n)) : 0n;
}
