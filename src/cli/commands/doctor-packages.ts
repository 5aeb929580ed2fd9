import type { Config } from "../../config/schema.js";

/**
 * The commands a configuration will run, each with the Debian package that provides it, so that
 * `doctor` can end with one `apt-get install` line for everything missing.
 */
export interface ToolNeed {
  command: string;
  debianPackage: string;
  why: string;
}

export function toolsFor(config: Config): ToolNeed[] {
  const needs: ToolNeed[] = [];
  const add = (command: string, debianPackage: string, why: string) => {
    if (!needs.some((n) => n.command === command)) needs.push({ command, debianPackage, why });
  };
  for (const [name, repo] of Object.entries(config.repositories)) {
    if (repo.engine === "restic" && repo.url.startsWith("sftp:"))
      add("ssh", "openssh-client", `repository ${name} is reached over sftp`);
    if (repo.engine === "restic" && repo.url.startsWith("rclone:"))
      add("rclone", "rclone", `repository ${name} is an rclone remote`);
    if ((repo.engine === "btrfs" || repo.engine === "zfs") && repo.ssh !== undefined)
      add("ssh", "openssh-client", `replication target ${name} is reached over ssh`);
    if (repo.engine === "btrfs") add("btrfs", "btrfs-progs", `replication target ${name}`);
    if (repo.engine === "zfs") add("zfs", "zfsutils-linux", `replication target ${name}`);
  }
  for (const [plan, p] of Object.entries(config.plans)) {
    if (p.snapshot === "zfs" || p.zfs_datasets !== undefined)
      add("zfs", "zfsutils-linux", `plan ${plan} snapshots ZFS datasets`);
    for (const db of p.databases) {
      if (db.type === "postgresql")
        add("pg_dump", "postgresql-client", `plan ${plan} dumps PostgreSQL`);
      if (db.type === "mysql")
        add("mariadb-dump", "mariadb-client", `plan ${plan} dumps MariaDB/MySQL`);
      if (db.type === "sqlite") add("sqlite3", "sqlite3", `plan ${plan} dumps SQLite`);
    }
  }
  return needs;
}

/** "apt-get install a b" for the packages of the failed checks, in order, once each. */
export function aptLine(packages: readonly string[]): string | undefined {
  const unique = [...new Set(packages)];
  return unique.length === 0 ? undefined : `apt-get install ${unique.join(" ")}`;
}
