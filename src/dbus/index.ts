export { openRunBus, type RunBus } from "./run-bus.js";
import type { openBusService as open } from "./service.js";
export type { BusService, BusOwner, OpenBusResult, RunEventSource } from "./service.js";

/**
 * The bus service, loaded on first use: the D-Bus library is a large part of the CLI and most
 * commands never touch the bus (scripts/build.mjs splits it into its own chunk).
 */
export async function openBusService(...args: Parameters<typeof open>): ReturnType<typeof open> {
  return (await import("./service.js")).openBusService(...args);
}
export { dbusDoctorChecks } from "./doctor.js";
export { dbusSchema, type DbusConfig } from "./schema.js";
export { BUS_NAME, MANAGER_PATH, MANAGER_IFACE, RUN_IFACE, runPath } from "./names.js";
