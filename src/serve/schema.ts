// The [server] schema lives with the config (src/config/server.ts): the config sits below the service.
export * from "../config/server.js";
