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
  return isMember(uid, allowGroup, group, passwd);
}

/** Whether `uid` belongs to `groupName`, given the text of /etc/group and /etc/passwd. */
export function isMember(uid: number, groupName: string, group: string, passwd: string): boolean {
  const entry = fields(group).find((f) => f[0] === groupName);
  if (!entry) return false;
  const user = fields(passwd).find((f) => f[2] === String(uid));
  if (!user) return false;
  const members = (entry[3] ?? "").split(",").filter((m) => m !== "");
  return user[3] === entry[2] || members.includes(user[0] ?? "");
}

function fields(text: string): string[][] {
  return text
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => l.split(":"));
}
