import { access } from "node:fs/promises";

/** What libdbus and dbus-next use when $DBUS_SYSTEM_BUS_ADDRESS is unset. */
const DEFAULT_SYSTEM_BUS_ADDRESS = "unix:path=/var/run/dbus/system_bus_socket";

export function systemBusAddress(env: NodeJS.ProcessEnv = process.env): string {
  return env["DBUS_SYSTEM_BUS_ADDRESS"] ?? DEFAULT_SYSTEM_BUS_ADDRESS;
}

/**
 * The socket files a D-Bus address names (`unix:path=…` entries, `;`-separated, values
 * %-escaped), or undefined when any entry is of another kind (abstract socket, tcp) that only
 * a connection attempt can check.
 */
export function unixSocketPaths(address: string): string[] | undefined {
  const paths: string[] = [];
  for (const entry of address.split(";").filter((e) => e !== "")) {
    const colon = entry.indexOf(":");
    if (colon < 0 || entry.slice(0, colon) !== "unix") return undefined;
    const keys = new Map(
      entry
        .slice(colon + 1)
        .split(",")
        .map((kv) => {
          const eq = kv.indexOf("=");
          return [kv.slice(0, eq), kv.slice(eq + 1)] as const;
        }),
    );
    const path = keys.get("path");
    if (path === undefined) return undefined;
    paths.push(decodeURIComponent(path));
  }
  return paths.length > 0 ? paths : undefined;
}

/**
 * Why there is certainly no system bus, without loading the D-Bus library: every socket the
 * address names is missing. Undefined when a bus may be there (then only connecting tells).
 */
export async function busSurelyAbsent(address: string): Promise<string | undefined> {
  const paths = unixSocketPaths(address);
  if (paths === undefined) return undefined;
  for (const path of paths) {
    const exists = await access(path).then(
      () => true,
      () => false,
    );
    if (exists) return undefined;
  }
  return `${paths.join(", ")} does not exist`;
}
