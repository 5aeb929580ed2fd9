/** The names of snapback's D-Bus API (contract: interface.md, "D-Bus"). */
export const BUS_NAME = "org.snapback.Snapback1";
export const MANAGER_PATH = "/org/snapback/Snapback1";
export const MANAGER_IFACE = "org.snapback.Snapback1.Manager";
export const RUN_IFACE = "org.snapback.Snapback1.Run";
export const RUNS_PATH = `${MANAGER_PATH}/runs`;

export const PROPERTIES_IFACE = "org.freedesktop.DBus.Properties";
export const INTROSPECTABLE_IFACE = "org.freedesktop.DBus.Introspectable";
export const PEER_IFACE = "org.freedesktop.DBus.Peer";

/** Where distributions install system bus policies (the first is the packaged location). */
export const POLICY_FILE_NAME = `${BUS_NAME}.conf`;
export const POLICY_DIRS = ["/usr/share/dbus-1/system.d", "/etc/dbus-1/system.d"];

/**
 * An object path element may hold only [A-Za-z0-9_]; run ids look like 20261122T024000Z-1a2b.
 * Every other byte becomes _XX (hex), so the mapping is reversible and collision-free.
 */
export function runPath(runId: string): string {
  const escaped = [...Buffer.from(runId, "utf8")]
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9]/.test(c) ? c : `_${b.toString(16).padStart(2, "0")}`;
    })
    .join("");
  return `${RUNS_PATH}/${escaped}`;
}
