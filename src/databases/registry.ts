import { mysqlDriver } from "./mysql.js";
import { postgresDriver } from "./postgres.js";
import type { DatabaseConfig } from "../config/databases.js";
import { sqliteDriver } from "./sqlite.js";
import type { DatabaseDriver } from "./types.js";

const drivers: {
  [T in DatabaseConfig["type"]]: DatabaseDriver<Extract<DatabaseConfig, { type: T }>>;
} = {
  postgresql: postgresDriver,
  mysql: mysqlDriver,
  sqlite: sqliteDriver,
};

/** The driver for an entry's type. */
export function driverFor<D extends DatabaseConfig>(db: D): DatabaseDriver<D> {
  return drivers[db.type] as unknown as DatabaseDriver<D>;
}
