import { btrfsProvider } from "./btrfs/index.js";
import { noneProvider } from "./none.js";
import type { SnapshotKind, SnapshotProvider } from "../core/snapshot.js";
import { zfsProvider } from "./zfs/index.js";

const providers: Record<SnapshotKind, SnapshotProvider> = {
  btrfs: btrfsProvider,
  zfs: zfsProvider,
  none: noneProvider,
};

export function providerFor(kind: SnapshotKind): SnapshotProvider {
  return providers[kind];
}

export function providerByName(name: string): SnapshotProvider | undefined {
  return (providers as Record<string, SnapshotProvider | undefined>)[name];
}
