import { describe, expect, it } from "vitest";
import { parseSubvolumeShow } from "./btrfs-show.js";

const RECEIVED = `t/s1
	Name: 			s1
	UUID: 			a347c201-1718-7f45-8607-f9402a9a40ce
	Parent UUID: 		-
	Received UUID: 		34bc172c-0519-ba48-a311-91f275340346
	Creation time: 		2026-11-22 03:03:12 +0000
	Subvolume ID: 		256
	Generation: 		7
	Gen at creation: 	7
	Parent ID: 		5
	Top level ID: 		5
	Flags: 			readonly
	Send transid: 		7
	Send time: 		2026-11-22 03:03:12 +0000
	Receive transid: 	7
	Receive time: 		2026-11-22 03:03:12 +0000
	Snapshot(s):
				t/s1/inner
	Quota group:		n/a
`;

describe("btrfs subvolume show", () => {
  it("reads what replication needs and stops at the snapshot list", () => {
    expect(parseSubvolumeShow("/mnt/t/s1", RECEIVED)).toEqual({
      path: "/mnt/t/s1",
      name: "s1",
      uuid: "a347c201-1718-7f45-8607-f9402a9a40ce",
      parentUuid: undefined,
      receivedUuid: "34bc172c-0519-ba48-a311-91f275340346",
      readonly: true,
      genAtCreation: 7,
    });
  });

  it("sees an interrupted receive as writable and without received_uuid", () => {
    const partial = RECEIVED.replace(/Received UUID:.*$/m, "Received UUID: \t\t-").replace(
      /Flags:.*$/m,
      "Flags: \t\t\t-",
    );
    const info = parseSubvolumeShow("/mnt/t/s1", partial);
    expect(info?.receivedUuid).toBeUndefined();
    expect(info?.readonly).toBe(false);
  });

  it("is undefined for something that is not a subvolume", () => {
    expect(
      parseSubvolumeShow("/x", "ERROR: Not a Btrfs subvolume: Invalid argument\n"),
    ).toBeUndefined();
  });
});
