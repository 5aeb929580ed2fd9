export { openRunBus, type RunBus } from "./run-bus.js";
export {
  openBusService,
  BusService,
  type BusOwner,
  type OpenBusResult,
  type RunEventSource,
} from "./service.js";
export { dbusDoctorChecks } from "./doctor.js";
export { dbusSchema, type DbusConfig } from "./schema.js";
export { BUS_NAME, MANAGER_PATH, MANAGER_IFACE, RUN_IFACE, runPath } from "./names.js";
