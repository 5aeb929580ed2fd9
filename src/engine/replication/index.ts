export { BtrfsTargetEngine } from "./btrfs-target.js";
export { ZfsTargetEngine } from "./zfs-target.js";
export { replicateBtrfsSnapshot, targetDirFor, type BtrfsReplication } from "./btrfs-replicate.js";
export { replicateZfsSnapshot, targetDatasetFor, type ZfsReplication } from "./zfs-replicate.js";
export type { TransferRecord } from "./engine-base.js";
export { keepForReplication, needsKeeping, pinnedByEngines, releaseUnlessPinned } from "./keep.js";
export { pinnedSnapshots, readPins } from "./pins.js";
export { escapeSourceName, unescapeSourceName } from "./naming.js";
export { localHost, sshHost, type Host } from "./ssh.js";
