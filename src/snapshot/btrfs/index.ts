export { btrfsProvider } from "./provider.js";
export { planBtrfs, type BtrfsPlanDetail, type BtrfsSnapshotStep } from "./plan.js";
export {
  SNAPSHOT_DIR_NAME,
  formatSnapshotName,
  parseSnapshotName,
  isSnapbackSnapshotPath,
  type SnapshotName,
} from "./naming.js";
export { listSnapbackSnapshots, findSnapbackSnapshots, type LocalSnapshot } from "./list.js";
export { deleteSubvolume, findSubvolumeRoot, isSubvolume, listSubvolumes } from "./subvolume.js";
