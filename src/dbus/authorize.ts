import { readFile } from "node:fs/promises";

/**
 * Who may start or stop backups over the bus: root, and the members of `[dbus] allow_group`.
 * The shipped policy says the same, but a misinstalled or overridden policy must not let
 * every user cancel a backup, so the service checks again with the uid the bus daemon
 * reports for the caller (like snapper's ALLOW_USERS/ALLOW_GROUPS).
 *
 * Membership is read from /etc/group (listed members) and /etc/passwd (primary group) at
 * the time of the call, so adding a user to the group takes effect without a restart.
 */
export async function mayControl(uid: number, allowGroup: string | undefined): Promise<boolean> {
  if (uid === 0) return true;
  if (allowGroup === undefined) return false;
  const [group, passwd] = await Promise.all([
    readFile("/etc/group", "utf8").catch(() => ""),
    readFile("/etc/passwd", "utf8").catch(() => ""),
  ]);
  const entry = group
    .split("\n")
    .map((l) => l.split(":"))
    .find((f) => f[0] === allowGroup);
  if (!entry) return false;
  const gid = entry[2];
  const members = (entry[3] ?? "").split(",").filter((m) => m !== "");
  const user = passwd
    .split("\n")
    .map((l) => l.split(":"))
    .find((f) => f[2] === String(uid));
  if (!user) return false;
  return user[3] === gid || members.includes(user[0] ?? "");
}
