/**
 * The sandbox every snapback unit runs in: as tight as btrfs/ZFS snapshots, private mount
 * namespaces, restic and restores allow. The same list is written into nix/hardening.json for
 * the NixOS module (a test keeps the two equal), so every way of installing ships one hardening.
 *
 * Settings deliberately NOT set, and why:
 * - ProtectSystem=strict / ProtectHome: snapshots are created inside the source subvolumes
 *   (`<subvolume>/.snapback`), which may be anywhere, /home included; restores write anywhere.
 * - PrivateDevices: btrfs, ZFS and loop devices live in /dev.
 * - MemoryDenyWriteExecute: Node's JIT needs writable+executable memory.
 * - RestrictSUIDSGID: a restore must bring back set-uid files as they were.
 * - PrivateNetwork / IPAddressDeny: repositories are remote (sftp, REST, S3).
 */
export interface UnitSetting {
  key: string;
  value: string;
}

export const CAPABILITIES = [
  "CAP_SYS_ADMIN", // mount namespaces, bind mounts, btrfs snapshot/delete ioctls
  "CAP_DAC_READ_SEARCH", // read every file of the sources
  "CAP_DAC_OVERRIDE", // write .snapback directories and restore targets owned by others
  "CAP_FOWNER", // restore modes and times of files owned by others
  "CAP_CHOWN", // restore ownership
  "CAP_FSETID", // keep set-uid bits on restore
  "CAP_SETUID", // database dumps run as the database's user (runuser)
  "CAP_SETGID",
  "CAP_KILL", // stop hook and dump processes that run as other users
  "CAP_SYS_CHROOT", // a source of "/" becomes the root of the view
  "CAP_MKNOD", // restore device nodes
] as const;

export const HARDENING: readonly UnitSetting[] = [
  { key: "Nice", value: "10" },
  { key: "IOSchedulingClass", value: "idle" },
  { key: "UMask", value: "0077" },
  { key: "NoNewPrivileges", value: "yes" },
  { key: "CapabilityBoundingSet", value: CAPABILITIES.join(" ") },
  { key: "ProtectSystem", value: "full" },
  { key: "PrivateTmp", value: "yes" },
  { key: "ProtectKernelTunables", value: "yes" },
  { key: "ProtectKernelModules", value: "yes" },
  { key: "ProtectKernelLogs", value: "yes" },
  { key: "ProtectControlGroups", value: "yes" },
  { key: "ProtectClock", value: "yes" },
  { key: "ProtectHostname", value: "yes" },
  // The view is a private mount namespace; nothing else is ever unshared.
  { key: "RestrictNamespaces", value: "mnt" },
  { key: "RestrictRealtime", value: "yes" },
  { key: "RestrictAddressFamilies", value: "AF_UNIX AF_INET AF_INET6" },
  { key: "LockPersonality", value: "yes" },
  { key: "SystemCallArchitectures", value: "native" },
  { key: "SystemCallFilter", value: "@system-service @mount" },
  { key: "SystemCallErrorNumber", value: "EPERM" },
  { key: "StateDirectory", value: "snapback" },
  { key: "StateDirectoryMode", value: "0700" },
];
