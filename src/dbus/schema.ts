// The [dbus] schema lives with the config (src/config/dbus.ts): the config sits below the bus service.
export * from "../config/dbus.js";
