import type { Config } from "../config/schema.js";
import { openBusService } from "../dbus/index.js";
import { BUS_NAME } from "../dbus/names.js";
import type { HistoryStore } from "../history/store.js";
import { log } from "../log.js";
import type { RunEvent } from "../core/events.js";
import type { RunEventBus } from "./bus.js";
import { cancelExternalRun } from "./cancel.js";
import type { RunManager } from "./runner.js";

/**
 * The daemon owns org.snapback.Snapback1 and publishes every run it sees — its own, the CLI's,
 * a timer's — with StartBackup through its run manager and Cancel/Stop for any of them. No bus,
 * or the name taken: the daemon runs on without D-Bus and says so once.
 */
export async function attachDbus(daemon: {
  config: Config;
  bus: RunEventBus;
  runs: RunManager;
  history: HistoryStore;
}): Promise<AsyncDisposable | undefined> {
  const { config, bus, runs, history } = daemon;
  if (config.dbus?.enable === false) return undefined;
  const opened = await openBusService({
    listPlans: () => Object.keys(config.plans),
    cancel: (runId) => {
      if (!runs.cancel(runId)) cancelExternalRun(history, runId);
    },
    startBackup: (plan, { dryRun }) =>
      Promise.resolve(runs.start(plan, { dryRun, by: "D-Bus" }).runId),
    allowGroup: config.dbus?.allow_group,
    broadcastFileNames: config.dbus?.broadcast_file_names ?? false,
  });
  if (opened.kind === "unavailable") {
    log.info(`D-Bus: ${opened.reason}; serving without D-Bus`);
    return undefined;
  }
  if (opened.kind === "taken") {
    log.warn(`D-Bus: ${BUS_NAME} is owned by another process; serving without D-Bus`);
    return undefined;
  }
  const service = opened.service;
  const subscription = service.publishRuns((listener) =>
    bus.subscribe((m) => listener(m.event as unknown as RunEvent)),
  );
  log.info(`D-Bus: publishing every run as ${BUS_NAME} on the system bus`);
  return {
    async [Symbol.asyncDispose]() {
      subscription[Symbol.dispose]();
      await service[Symbol.asyncDispose]();
    },
  };
}
