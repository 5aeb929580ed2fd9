import type { Config } from "../config/schema.js";
import { errorMessage } from "../errors.js";
import { log } from "../log.js";
import type { RunEvent } from "../core/events.js";
import { busSurelyAbsent, systemBusAddress } from "./address.js";
import { BUS_NAME } from "./names.js";
import type { BusService } from "./service.js";

/** What a `snapback backup` run sees of the bus: somewhere to put its events. */
export interface RunBus extends AsyncDisposable {
  publish(event: RunEvent): void;
}

/**
 * The igotchuu way, for runs from timers without the daemon: the CLI run owns the name for
 * its duration. If the daemon owns it, the daemon shows this run (from the history store);
 * without a bus the run goes on exactly as without D-Bus.
 */
export async function openRunBus(config: Config): Promise<RunBus> {
  if (config.dbus?.enable === false) return noBus;
  // Most machines that run backups from cron have no bus socket at all: say so without
  // loading the D-Bus library (~40 ms of every run's start).
  const absent = await busSurelyAbsent(systemBusAddress());
  if (absent !== undefined) {
    log.verbose(`D-Bus: no system bus: ${absent}; running without D-Bus`);
    return noBus;
  }
  // Loaded here, not with the CLI: the D-Bus library is a large part of the bundle, and a
  // dry run or any other command never needs it.
  const { openBusService } = await import("./service.js");
  const opened = await openBusService({
    listPlans: () => Object.keys(config.plans),
    // Cancel() and Stop() must do exactly what SIGTERM does to this run (status
    // interrupted, cleanup, exit 130): the run's own SIGTERM handler does it.
    cancel: () => {
      process.kill(process.pid, "SIGTERM");
    },
    allowGroup: config.dbus?.allow_group,
    broadcastFileNames: config.dbus?.broadcast_file_names ?? false,
  });
  switch (opened.kind) {
    case "unavailable":
      log.verbose(`D-Bus: ${opened.reason}; running without D-Bus`);
      return noBus;
    case "taken":
      log.verbose(
        `D-Bus: ${BUS_NAME} is owned by another process (snapback serve?), which shows this run`,
      );
      return noBus;
    case "owned":
      log.verbose(`D-Bus: publishing this run as ${BUS_NAME} on the system bus`);
      return ownedBus(opened.service);
  }
}

function ownedBus(service: BusService): RunBus {
  return {
    publish(event) {
      try {
        service.publish(event);
      } catch (e) {
        // The bus is a window on the run; it must never break the run.
        log.verbose(`D-Bus: could not publish a ${event.type} event: ${errorMessage(e)}`);
      }
    },
    [Symbol.asyncDispose]: () => service[Symbol.asyncDispose](),
  };
}

const noBus: RunBus = {
  publish: () => undefined,
  [Symbol.asyncDispose]: () => Promise.resolve(),
};
