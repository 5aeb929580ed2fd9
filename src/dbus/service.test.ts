import { EventEmitter } from "node:events";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { run } from "../exec/index.js";
import type { RunEvent } from "../core/events.js";
import {
  asUser,
  startBusctlMonitor,
  startSystemBus,
  type TestBus,
} from "../../test/fixtures/dbus.js";
import { interfaceFile, MANAGER_XML, RUN_XML } from "./introspection.js";
import { runPath } from "./names.js";
import { openBusService, type BusOwner, type BusService } from "./service.js";

/**
 * The service on a real dbus-daemon, fed with run events the way the CLI run or the daemon
 * feeds it, and inspected with busctl, gdbus and dbus-send.
 */

const NAME = "org.snapback.Snapback1";
const MANAGER = "/org/snapback/Snapback1";
const RUN_ID = "20261127T120000Z-beef";
const PATH = runPath(RUN_ID);

/** Opens the service on `bus` (the library reads the address from the environment). */
async function openOn(bus: TestBus, owner: Partial<BusOwner> = {}) {
  const saved = process.env["DBUS_SYSTEM_BUS_ADDRESS"];
  process.env["DBUS_SYSTEM_BUS_ADDRESS"] = bus.address;
  try {
    const opened = await openBusService({
      listPlans: () => ["home", "db"],
      cancel: () => undefined,
      ...owner,
    });
    if (opened.kind !== "owned") throw new Error(`service not owned: ${JSON.stringify(opened)}`);
    return opened.service;
  } finally {
    if (saved === undefined) delete process.env["DBUS_SYSTEM_BUS_ADDRESS"];
    else process.env["DBUS_SYSTEM_BUS_ADDRESS"] = saved;
  }
}

function busctl(bus: TestBus, args: string[]) {
  return run("busctl", [`--address=${bus.address}`, ...args], { reject: false });
}

async function busctlJson(bus: TestBus, args: string[]): Promise<unknown> {
  const r = await busctl(bus, ["--json=short", ...args]);
  if (r.exitCode !== 0) throw new Error(`busctl ${args.join(" ")}: ${r.stderr}`);
  return JSON.parse(r.stdout) as unknown;
}

const start: RunEvent = {
  type: "start",
  plan: "home",
  run_id: RUN_ID,
  sources: ["/home"],
  repositories: ["nas"],
};

function progress(i: number, currentFiles: string[] = []): RunEvent {
  return {
    type: "progress",
    plan: "home",
    repository: "nas",
    percent_done: i / 100,
    files_done: i,
    total_files: 100,
    bytes_done: i * 1000,
    total_bytes: 100_000,
    seconds_elapsed: i,
    seconds_remaining: 100 - i,
    current_files: currentFiles,
  };
}

function result(status: "success" | "interrupted"): RunEvent {
  return {
    type: "result",
    plan: "home",
    run_id: RUN_ID,
    status,
    snapshot_ids: {},
    snapshot_skew_ms: null,
    atomic_groups: [],
    nested: [],
    not_point_in_time: [],
    warnings: [],
    failed_repositories: {},
    duration_s: 1,
  };
}

function closing(service: BusService): AsyncDisposable {
  return { [Symbol.asyncDispose]: () => service[Symbol.asyncDispose]() };
}

describe("D-Bus service", () => {
  test("introspection: shipped interface files match, busctl and gdbus show igotchuu's exact signatures", async () => {
    const share = resolve(import.meta.dirname, "../../share/dbus-1/interfaces");
    expect(await readFile(`${share}/org.snapback.Snapback1.Manager.xml`, "utf8")).toBe(
      interfaceFile(MANAGER_XML),
    );
    expect(await readFile(`${share}/org.snapback.Snapback1.Run.xml`, "utf8")).toBe(
      interfaceFile(RUN_XML),
    );

    await using bus = await startSystemBus();
    await using _service = closing(await openOn(bus));
    const service = await openOn(bus).catch((e: unknown) => e);
    expect(String(service)).toContain("taken");

    const gdbus = await run(
      "gdbus",
      ["introspect", "--system", "--dest", NAME, "--object-path", MANAGER],
      { env: bus.env },
    );
    const text = gdbus.stdout.replace(/\s+/g, " ");
    expect(text).toContain("interface org.snapback.Snapback1.Manager {");
    expect(text).toContain("ListPlans(out as plans);");
    expect(text).toContain("StartBackup(in s plan, in a{sv} options, out o run);");
    expect(text).toContain("RunFinished(o run, s plan, s status);");
    expect(text).toContain("Stop();");
    expect(text).toContain("BackupStarted();");
    expect(text).toContain(
      "Progress(t seconds_elapsed, t seconds_remaining, d percent_done, t total_files, t files_done, t total_bytes, t bytes_done, t error_count, as current_files);",
    );
    expect(text).toContain(
      "BackupComplete(t files_new, t files_changed, t files_unmodified, t dirs_new, t dirs_changed, t dirs_unmodified, x data_blobs, x tree_blobs, t data_added, t total_files_processed, t total_bytes_processed, d total_duration, s snapshot_id, b dry_run);",
    );
    expect(text).toContain("Error(s error, s during, s item);");

    const members = (await busctl(bus, ["introspect", NAME, MANAGER])).stdout
      .split("\n")
      .map((l) => l.trim().split(/\s+/).slice(0, 4).join(" "));
    expect(members).toEqual(
      expect.arrayContaining([
        ".StartBackup method sa{sv} o",
        ".Stop method - -",
        ".Progress signal ttdtttttas -",
        ".BackupComplete signal ttttttxxtttdsb -",
        ".Error signal sss -",
        ".RunStarted signal os -",
        ".RunFinished signal oss -",
      ]),
    );
  });

  test("a late client reads the current properties; PropertiesChanged and Progress are throttled", async () => {
    await using bus = await startSystemBus();
    await using mon = await startBusctlMonitor(bus);
    const service = await openOn(bus);
    await using _closing = closing(service);
    service.publish(start);
    service.publish({ type: "backup_start", plan: "home", repository: "nas" });
    // A burst far faster than 4/s: one change goes out at once, the rest is coalesced.
    for (let i = 1; i <= 100; i++) service.publish(progress(i));

    const all = (await busctlJson(bus, [
      "call",
      NAME,
      PATH,
      "org.freedesktop.DBus.Properties",
      "GetAll",
      "s",
      "org.snapback.Snapback1.Run",
    ])) as { data: [Record<string, { type: string; data: unknown }>] };
    const props = Object.fromEntries(Object.entries(all.data[0]).map(([k, v]) => [k, v.data]));
    expect(props).toMatchObject({
      RunId: RUN_ID,
      Plan: "home",
      State: "running",
      Repository: "nas",
      PercentDone: 1,
      FilesDone: 100,
      TotalFiles: 100,
      BytesDone: 100_000,
      SecondsRemaining: 0,
    });
    expect(all.data[0]["StartedAt"]?.type).toBe("t");

    service.publish(result("success"));
    await mon.waitFor((m) => m.member === "RunFinished");
    const changes = mon.signals("PropertiesChanged");
    // One right away, one for the coalesced rest (at the latest with the final State).
    expect(changes.length).toBeLessThanOrEqual(3);
    expect(changes.length).toBeGreaterThanOrEqual(2);
    expect(mon.signals("Progress").length).toBeLessThanOrEqual(3);
    const last = mon.signals("Progress").at(-1)?.payload?.data;
    expect(last?.slice(0, 8)).toEqual([100, 0, 1, 100, 100, 100_000, 100_000, 0]);
    expect(last?.[8]).toEqual([]);

    // The finished run stays readable until it is removed.
    const state = await busctlJson(bus, [
      "get-property",
      NAME,
      PATH,
      "org.snapback.Snapback1.Run",
      "State",
    ]);
    expect(state).toEqual({ type: "s", data: "success" });
  });

  test("a finished run's object is removed after lingerMs; Set is refused as read-only", async () => {
    await using bus = await startSystemBus();
    let onRemoved: (id: string) => void = () => undefined;
    const removed = new Promise<string>((r) => (onRemoved = r));
    const service = await openOn(bus, { lingerMs: 10, onRunRemoved: (id) => onRemoved(id) });
    await using _closing = closing(service);
    service.publish(start);
    const set = await busctl(bus, [
      "set-property",
      NAME,
      PATH,
      "org.snapback.Snapback1.Run",
      "State",
      "s",
      "failed",
    ]);
    expect(set.exitCode).not.toBe(0);
    expect(set.stderr).toContain("read-only");
    service.publish(result("success"));
    expect(await removed).toBe(RUN_ID);
    expect(
      await busctlJson(bus, ["call", NAME, MANAGER, "org.snapback.Snapback1.Manager", "ListRuns"]),
    ).toEqual({
      type: "ao",
      data: [[]],
    });
    const gone = await busctl(bus, [
      "get-property",
      NAME,
      PATH,
      "org.snapback.Snapback1.Run",
      "State",
    ]);
    expect(gone.exitCode).not.toBe(0);
    expect(gone.stderr).toMatch(/no run at|Unknown object/i);
  });

  test("StartBackup through the daemon's callback returns the Run object; without a daemon it is refused", async () => {
    await using bus = await startSystemBus();
    const started: { plan: string; dryRun: boolean }[] = [];
    // The daemon's event stream of all runs, as `snapback serve` hands it to publishRuns.
    const events = new EventEmitter<{ event: [RunEvent] }>();
    const service: BusService = await openOn(bus, {
      startBackup: (plan, options) => {
        started.push({ plan, ...options });
        queueMicrotask(() => events.emit("event", { ...start, plan }));
        return Promise.resolve(RUN_ID);
      },
    });
    await using _closing = closing(service);
    using _published = service.publishRuns((listener) => {
      events.on("event", listener);
      return () => events.off("event", listener);
    });
    const reply = await busctlJson(bus, [
      "call",
      NAME,
      MANAGER,
      "org.snapback.Snapback1.Manager",
      "StartBackup",
      "sa{sv}",
      "home",
      "1",
      "dry_run",
      "b",
      "true",
    ]);
    expect(reply).toEqual({ type: "o", data: [PATH] });
    expect(started).toEqual([{ plan: "home", dryRun: true }]);
    expect(
      await busctlJson(bus, ["get-property", NAME, PATH, "org.snapback.Snapback1.Run", "Plan"]),
    ).toEqual({ type: "s", data: "home" });

    const unknown = await busctl(bus, [
      "call",
      NAME,
      MANAGER,
      "org.snapback.Snapback1.Manager",
      "StartBackup",
      "sa{sv}",
      "nope",
      "0",
    ]);
    expect(unknown.stderr).toContain('unknown plan "nope" (defined: home, db)');
    const badOption = await busctl(bus, [
      "call",
      NAME,
      MANAGER,
      "org.snapback.Snapback1.Manager",
      "StartBackup",
      "sa{sv}",
      "home",
      "1",
      "dryrun",
      "b",
      "true",
    ]);
    expect(badOption.stderr).toContain('unknown option "dryrun"');
    expect(
      await busctlJson(bus, ["call", NAME, MANAGER, "org.snapback.Snapback1.Manager", "ListPlans"]),
    ).toEqual({ type: "as", data: [["home", "db"]] });
    await service[Symbol.asyncDispose]();

    // A CLI run owns the name: no daemon to start anything.
    await using _cli = closing(await openOn(bus));
    const refused = await run(
      "gdbus",
      [
        "call",
        "--system",
        "--dest",
        NAME,
        "--object-path",
        MANAGER,
        "--method",
        "org.snapback.Snapback1.Manager.StartBackup",
        "home",
        "{}",
      ],
      { env: bus.env, reject: false },
    );
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain("org.freedesktop.DBus.Error.NotSupported");
    expect(refused.stderr).toContain("StartBackup needs the snapback daemon (snapback serve)");
  });

  test("a too permissive policy still cannot let nobody cancel: the service checks the caller's uid", async () => {
    // What a misinstalled policy would do: let everyone send anything to the name.
    await using bus = await startSystemBus({
      extraPolicy: `<policy context="default"><allow send_destination="${NAME}"/></policy>`,
    });
    const cancelled: string[] = [];
    const service = await openOn(bus, { cancel: (id) => void cancelled.push(id) });
    await using _closing = closing(service);
    service.publish(start);
    const denied = await asUser(bus, "nobody", "gdbus", [
      "call",
      "--system",
      "--dest",
      NAME,
      "--object-path",
      PATH,
      "--method",
      "org.snapback.Snapback1.Run.Cancel",
    ]);
    expect(denied.exitCode).not.toBe(0);
    expect(denied.stderr).toContain(
      "uid 65534 may not cancel backups: only root and members of [dbus] allow_group may",
    );
    expect(denied.stderr).not.toMatch(/at .*\.js/);
    const stop = await asUser(bus, "nobody", "dbus-send", [
      `--bus=${bus.address}`,
      "--print-reply",
      `--dest=${NAME}`,
      MANAGER,
      "org.snapback.Snapback1.Manager.Stop",
    ]);
    expect(stop.stderr).toContain("org.freedesktop.DBus.Error.AccessDenied");
    expect(cancelled).toEqual([]);

    const ok = await busctl(bus, ["call", NAME, MANAGER, "org.snapback.Snapback1.Manager", "Stop"]);
    expect(ok.exitCode).toBe(0);
    expect(cancelled).toEqual([RUN_ID]);
  });

  test("Progress.current_files: empty by default, the files only with broadcast_file_names", async () => {
    for (const broadcast of [false, true]) {
      await using bus = await startSystemBus();
      await using mon = await startBusctlMonitor(bus);
      const service = await openOn(bus, { broadcastFileNames: broadcast });
      await using _closing = closing(service);
      service.publish(start);
      service.publish(progress(5, ["/home/alice/secret-plans.odt"]));
      const p = await mon.waitFor((m) => m.member === "Progress");
      expect(p.payload?.data[8]).toEqual(broadcast ? ["/home/alice/secret-plans.odt"] : []);
    }
  });

  test("no system bus: open reports unavailable instead of throwing", async () => {
    const saved = process.env["DBUS_SYSTEM_BUS_ADDRESS"];
    process.env["DBUS_SYSTEM_BUS_ADDRESS"] = "unix:path=/nonexistent/snapback-test-bus";
    try {
      const opened = await openBusService({ listPlans: () => [], cancel: () => undefined });
      expect(opened.kind).toBe("unavailable");
    } finally {
      if (saved === undefined) delete process.env["DBUS_SYSTEM_BUS_ADDRESS"];
      else process.env["DBUS_SYSTEM_BUS_ADDRESS"] = saved;
    }
  });
});
