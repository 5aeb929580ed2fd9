import { open, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { openBusService } from "../src/dbus/index.js";
import { run, type RunResult } from "../src/exec/index.js";
import { CLI, createWorld, leftovers, type World } from "./fixtures/cli.js";
import { startDaemon } from "./fixtures/serve.js";
import {
  asUser,
  startBusctlMonitor,
  startMonitor,
  startSystemBus,
  type BusMessage,
  type TestBus,
} from "./fixtures/dbus.js";

/**
 * A CLI backup on a private system-style bus (the default-deny system policy plus the
 * project's shipped policy), watched and driven by third-party clients: gdbus monitor,
 * busctl, dbus-send, run as root or as another user through runuser.
 */

const NAME = "org.snapback.Snapback1";
const MANAGER = "/org/snapback/Snapback1";

/**
 * A config whose after_snapshot hook blocks on a FIFO: the test's open() for writing returns
 * only once the hook reads, so the run is known to be in flight with its snapshots taken.
 */
async function gatedWorld(w: World, extra = ""): Promise<string> {
  const gate = join(w.dir, "gate");
  await run("mkfifo", [gate]);
  await writeFile(join(w.data, "a.txt"), "alpha\n");
  await writeFile(join(w.data, "b.txt"), "beta beta\n");
  await w.writeConfig(
    `${w.basicConfig([w.data])}\n[[plans.p.hooks]]\nwhen = "after_snapshot"\nshell = "cat ${gate} >/dev/null"\n${extra}\n`,
  );
  return gate;
}

interface CliRun extends AsyncDisposable {
  done: Promise<RunResult>;
  pid: () => number;
}

/** The CLI backup in the background; disposing stops it (SIGTERM) if a failed test left it running. */
function startCli(w: World, bus: TestBus): CliRun {
  let pid = 0;
  const controller = new AbortController();
  const done = run(process.execPath, [CLI, "--config", w.configPath, "--json", "backup"], {
    env: bus.env,
    reject: false,
    signal: controller.signal,
    killSignal: "SIGTERM",
    killGraceMs: 30_000,
    onSpawn: (child) => (pid = child.pid ?? 0),
  });
  return {
    done,
    pid: () => pid,
    async [Symbol.asyncDispose]() {
      controller.abort();
      await done;
    },
  };
}

function runPathOf(m: BusMessage): string {
  const path = m.payload?.data[0];
  if (typeof path !== "string") throw new Error(`no run path in ${JSON.stringify(m)}`);
  return path;
}

async function property(bus: TestBus, path: string, name: string): Promise<unknown> {
  const r = await run("busctl", [
    `--address=${bus.address}`,
    "--json=short",
    "get-property",
    NAME,
    path,
    "org.snapback.Snapback1.Run",
    name,
  ]);
  return (JSON.parse(r.stdout) as { data: unknown }).data;
}

describe("D-Bus", () => {
  test("a CLI backup: RunStarted, a Run whose properties advance, RunFinished success, igotchuu's signals", async () => {
    await using bus = await startSystemBus();
    await using w = await createWorld();
    const gate = await gatedWorld(w);
    await using mon = await startBusctlMonitor(bus);
    await using gmon = await startMonitor(bus);

    await using cli = startCli(w, bus);
    const started = await mon.waitFor((m) => m.member === "RunStarted");
    const path = runPathOf(started);
    expect(started.payload?.data[1]).toBe("p");
    expect(path).toMatch(/^\/org\/snapback\/Snapback1\/runs\/\d{8}T\d{6}Z_2d[0-9a-f]{4}$/);
    // gdbus monitor subscribes only once the name has an owner.
    await gmon.waitFor(/The name org\.snapback\.Snapback1 is owned by/);

    // Mid-run: the object is there with its identity, and the CLI holds the name.
    expect(await property(bus, path, "State")).toBe("running");
    expect(await property(bus, path, "Plan")).toBe("p");
    expect(await property(bus, path, "FilesDone")).toBe(0);
    const listed = await run("busctl", [
      `--address=${bus.address}`,
      "--json=short",
      "call",
      NAME,
      MANAGER,
      "org.snapback.Snapback1.Manager",
      "ListRuns",
    ]);
    expect(JSON.parse(listed.stdout)).toEqual({ type: "ao", data: [[path]] });
    const owner = await run("busctl", [`--address=${bus.address}`, "status", NAME]);
    expect(owner.stdout).toMatch(new RegExp(`^PID=${cli.pid()}$`, "m"));

    (await open(gate, "w")).close().catch(() => undefined);
    const r = await cli.done;
    expect(r.exitCode).toBe(0);
    const summary = r.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((e) => e["type"] === "summary");
    if (!summary) throw new Error(`no summary in ${r.stdout}`);

    const finished = await mon.waitFor((m) => m.member === "RunFinished");
    expect(finished.payload?.data).toEqual([path, "p", "success"]);
    const changes = mon
      .signals("PropertiesChanged")
      .filter((m) => m.path === path)
      .map((m) => m.payload?.data[1] as Record<string, { data: unknown }>);
    const lastOf = (k: string) => changes.findLast((c) => k in c)?.[k]?.data;
    expect(lastOf("Repository")).toBe("r");
    expect(lastOf("PercentDone")).toBe(1);
    expect(lastOf("FilesDone")).toBe(summary["total_files_processed"]);
    expect(lastOf("FilesDone")).toBeGreaterThan(0);
    expect(lastOf("State")).toBe("success");

    // igotchuu's signals, as a widget written for igotchuu would see them.
    const complete = await gmon.waitFor(/\.BackupComplete \(/);
    await gmon.waitFor(/\.RunFinished \(/);
    expect(gmon.lines.some((l) => /Manager\.BackupStarted \(\)$/.test(l))).toBe(true);
    const progress = gmon.lines.filter((l) => l.includes("Manager.Progress ("));
    expect(progress.length).toBeGreaterThan(0);
    for (const l of progress) expect(l).toMatch(/, @as \[\]\)$/);
    const s = (k: string) => String(summary[k]);
    expect(complete).toContain(
      `(uint64 ${s("files_new")}, uint64 ${s("files_changed")}, uint64 ${s("files_unmodified")}, uint64 ${s("dirs_new")}, uint64 ${s("dirs_changed")}, uint64 ${s("dirs_unmodified")}, int64 ${s("data_blobs")}, int64 `,
    );
    expect(complete).toContain(
      `uint64 ${s("data_added")}, uint64 ${s("total_files_processed")}, uint64 ${s("total_bytes_processed")}, `,
    );
    expect(complete).toMatch(new RegExp(`, '${s("snapshot_id")}', false\\)$`));
    expect(await leftovers(w)).toEqual([]);
  });

  test("Cancel(): refused for nobody (the backup goes on), as root: interrupted, exit 130, nothing left", async () => {
    await using bus = await startSystemBus();
    await using w = await createWorld();
    const gate = await gatedWorld(w);
    await using mon = await startBusctlMonitor(bus);
    await using cli = startCli(w, bus);
    const path = runPathOf(await mon.waitFor((m) => m.member === "RunStarted"));
    // The hook holds the run after its snapshots were taken.
    const writer = await open(gate, "w");
    try {
      const denied = await asUser(bus, "nobody", "busctl", [
        `--address=${bus.address}`,
        "call",
        NAME,
        path,
        "org.snapback.Snapback1.Run",
        "Cancel",
      ]);
      expect(denied.exitCode).not.toBe(0);
      expect(denied.stderr).toMatch(/Access denied/i);
      const stop = await asUser(bus, "nobody", "dbus-send", [
        `--bus=${bus.address}`,
        "--print-reply",
        `--dest=${NAME}`,
        MANAGER,
        "org.snapback.Snapback1.Manager.Stop",
      ]);
      expect(stop.stderr).toContain("org.freedesktop.DBus.Error.AccessDenied");
      // Reading is for everyone.
      const state = await asUser(bus, "nobody", "busctl", [
        `--address=${bus.address}`,
        "get-property",
        NAME,
        path,
        "org.snapback.Snapback1.Run",
        "State",
      ]);
      expect(state.stdout.trim()).toBe('s "running"');

      const cancel = await asUser(bus, undefined, "dbus-send", [
        `--bus=${bus.address}`,
        "--print-reply",
        `--dest=${NAME}`,
        path,
        "org.snapback.Snapback1.Run.Cancel",
      ]);
      expect(cancel.exitCode).toBe(0);
    } finally {
      await writer.close();
    }
    const r = await cli.done;
    expect(r.exitCode).toBe(130);
    expect(r.stdout).toContain('"status":"interrupted"');
    expect((await mon.waitFor((m) => m.member === "RunFinished")).payload?.data).toEqual([
      path,
      "p",
      "interrupted",
    ]);
    expect(await leftovers(w)).toEqual([]);
    expect(await w.repo.snapshots()).toEqual([]);
  });

  test("[dbus] allow_group: a member of the group may cancel", async () => {
    // The administrator's drop-in that admits the group on the bus (see the shipped policy).
    await using bus = await startSystemBus({
      extraPolicy: `<policy group="daemon"><allow send_destination="${NAME}" send_interface="org.snapback.Snapback1.Run" send_member="Cancel"/></policy>`,
    });
    await using w = await createWorld();
    const gate = await gatedWorld(w, '[dbus]\nallow_group = "daemon"');
    await using mon = await startBusctlMonitor(bus);
    await using cli = startCli(w, bus);
    const path = runPathOf(await mon.waitFor((m) => m.member === "RunStarted"));
    const writer = await open(gate, "w");
    try {
      const cancel = await asUser(bus, "daemon", "busctl", [
        `--address=${bus.address}`,
        "call",
        NAME,
        path,
        "org.snapback.Snapback1.Run",
        "Cancel",
      ]);
      expect(cancel.stderr).toBe("");
      expect(cancel.exitCode).toBe(0);
    } finally {
      await writer.close();
    }
    const r = await cli.done;
    expect(r.exitCode).toBe(130);
    expect(await leftovers(w)).toEqual([]);
  });

  test("no system bus: the backup runs as without D-Bus and says so in one verbose line", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x");
    await w.writeConfig(w.basicConfig([w.data]));
    const r = await w.cli(["--verbose", "backup"], {
      env: { DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${join(w.dir, "no-bus-here")}` },
    });
    expect(r.exitCode).toBe(0);
    const lines = r.stderr.split("\n").filter((l) => l.includes("D-Bus"));
    expect(lines).toHaveLength(1);
    // Found by the socket's absence, before the D-Bus library is loaded.
    expect(lines[0]).toBe(
      `D-Bus: no system bus: ${join(w.dir, "no-bus-here")} does not exist; running without D-Bus`,
    );
  });

  test("the name taken (by the daemon): the CLI run goes on and says who shows it", async () => {
    await using bus = await startSystemBus();
    const saved = process.env["DBUS_SYSTEM_BUS_ADDRESS"];
    process.env["DBUS_SYSTEM_BUS_ADDRESS"] = bus.address;
    const daemon = await openBusService({ listPlans: () => [], cancel: () => undefined }).finally(
      () => {
        if (saved === undefined) delete process.env["DBUS_SYSTEM_BUS_ADDRESS"];
        else process.env["DBUS_SYSTEM_BUS_ADDRESS"] = saved;
      },
    );
    if (daemon.kind !== "owned") throw new Error(`test owner: ${daemon.kind}`);
    await using _daemon = daemon.service;
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x");
    await w.writeConfig(w.basicConfig([w.data]));
    const r = await w.cli(["--verbose", "backup"], { env: bus.env });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain(
      "D-Bus: org.snapback.Snapback1 is owned by another process (snapback serve?), which shows this run",
    );
  });

  test("doctor reports whether the system bus is reachable and whether the policy is installed", async () => {
    await using bus = await startSystemBus();
    const doctor = async (env: NodeJS.ProcessEnv) => {
      const r = await run(process.execPath, [CLI, "--json", "doctor"], { env, reject: false });
      const doc = JSON.parse(r.stdout) as {
        checks: { name: string; ok: boolean; required: boolean; detail: string }[];
      };
      return (name: string) => doc.checks.find((c) => c.name === name);
    };
    const up = await doctor(bus.env);
    expect(up("system bus")).toEqual({
      name: "system bus",
      ok: true,
      required: false,
      detail: `reachable at ${bus.address}`,
    });
    expect(up("D-Bus policy")?.detail).toMatch(
      /^(installed: \/(usr\/share|etc)\/dbus-1\/system\.d\/org\.snapback\.Snapback1\.conf|org\.snapback\.Snapback1\.conf is not installed in .*)$/,
    );
    const down = await doctor({ DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${bus.dir}/nothing` });
    expect(down("system bus")?.ok).toBe(false);
    expect(down("system bus")?.required).toBe(false);
  });
});

describe("D-Bus through snapback serve", () => {
  test("the daemon owns the name: StartBackup runs through it, a CLI run beside it is published, a late client reads it, Cancel stops it", async () => {
    await using bus = await startSystemBus();
    await using w = await createWorld();
    const gate = await gatedWorld(w);
    await using d = await startDaemon(w, { env: { DBUS_SYSTEM_BUS_ADDRESS: bus.address } });
    await using mon = await startBusctlMonitor(bus);
    const owner = await run("busctl", [`--address=${bus.address}`, "status", NAME]);
    expect(owner.stdout).toMatch(new RegExp(`^PID=${d.pid}$`, "m"));

    // A CLI run: the daemon owns the name, so the daemon shows it (from the history store).
    await using cli = startCli(w, bus);
    const started = await mon.waitFor((m) => m.member === "RunStarted");
    const path = runPathOf(started);
    // The after_snapshot hook holds the run until it can read the gate.
    const writer = await open(gate, "w");
    // A client that connects only now reads the run's current state.
    expect(await property(bus, path, "State")).toBe("running");
    expect(await property(bus, path, "Plan")).toBe("p");
    // Cancel as root through the daemon stops the CLI run like SIGTERM.
    await run("busctl", [
      `--address=${bus.address}`,
      "call",
      NAME,
      path,
      "org.snapback.Snapback1.Run",
      "Cancel",
    ]);
    // An after_snapshot hook restarts what before_snapshot stopped: it runs to its end.
    await writer.close();
    const r = await cli.done;
    expect(r.exitCode).toBe(130);
    const finished = await mon.waitFor((m) => m.member === "RunFinished");
    expect(finished.payload?.data).toEqual([path, "p", "interrupted"]);
    expect(await leftovers(w)).toEqual([]);

    // StartBackup: a run of the daemon, returned as its object path.
    const call = await run("busctl", [
      `--address=${bus.address}`,
      "--json=short",
      "call",
      NAME,
      MANAGER,
      "org.snapback.Snapback1.Manager",
      "StartBackup",
      "sa{sv}",
      "p",
      "0",
    ]);
    const runPath = (JSON.parse(call.stdout) as { data: string[] }).data[0] ?? "";
    expect(runPath).toMatch(/^\/org\/snapback\/Snapback1\/runs\//);
    const second = await mon.waitFor((m) => m.member === "RunStarted" && runPathOf(m) === runPath);
    expect(second.payload?.data[1]).toBe("p");
    (await open(gate, "w")).close().catch(() => undefined);
    const done = await mon.waitFor(
      (m) => m.member === "RunFinished" && m.payload?.data[0] === runPath,
    );
    expect(done.payload?.data).toEqual([runPath, "p", "success"]);
    expect(await property(bus, runPath, "State")).toBe("success");
    expect((await w.repo.snapshots()).length).toBe(1);
  });
});
