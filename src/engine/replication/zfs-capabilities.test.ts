import { describe, expect, it } from "vitest";
import { ensureZfsDaemon } from "../../../test/fixtures/zfs.js";
import { localHost } from "./ssh.js";
import { parseReplicationCapabilities, replicationCapabilities } from "./zfs-capabilities.js";

/** The relevant lines of OpenZFS 2.1's usage text (not installed on the test machines). */
const OPENZFS_USAGE = `usage: zfs command args ...
where 'command' is one of the following:

	snapshot [-r] [-o property=value] ... <filesystem|volume>@<snap> ...
	send [-DLPbcehnpsvw] [-i|-I snapshot]
	     [-R [-X dataset[,dataset]...]]     <snapshot>
	send [-DnvPLecw] [-i snapshot|bookmark] <filesystem|volume|snapshot>
	send [-nvPe] -t <receive_resume_token>
	send [-Pnv] --saved filesystem
	receive [-vMnsuF] [-o <property>=<value>] ... [-x <property>] ...
	    <filesystem|volume|snapshot>
	receive [-vMnsuF] [-o <property>=<value>] ... [-x <property>] ...
	    [-d | -e] <filesystem>
	receive -A <filesystem|volume>

	hold [-r] <tag> <snapshot> ...
	holds [-rHp] <snapshot> ...
	release [-r] <tag> <snapshot> ...
`;

describe("ZFS replication capabilities", () => {
  it("finds -u, -F, resumable transfers and holds in OpenZFS's usage", () => {
    expect(parseReplicationCapabilities(OPENZFS_USAGE)).toEqual({
      receiveNoMount: true,
      receiveForce: true,
      resumable: true,
      holds: true,
    });
  });

  it("reads the installed zfs-fuse: -F and holds, but no -u and nothing resumable", async () => {
    // zfs-fuse prints its usage only with its daemon up; on a fresh machine this test may be
    // the first to need it.
    await ensureZfsDaemon();
    const caps = await replicationCapabilities(localHost);
    expect(caps).toEqual({
      receiveNoMount: false,
      receiveForce: true,
      resumable: false,
      holds: true,
    });
  });

  it("claims nothing a usage text does not show", () => {
    expect(parseReplicationCapabilities("")).toEqual({
      receiveNoMount: false,
      receiveForce: false,
      resumable: false,
      holds: false,
    });
    // `-s` alone (no `send -t`, no `receive -A`) is not enough to resume.
    expect(parseReplicationCapabilities("\treceive [-vnsF] <filesystem>\n").resumable).toBe(false);
  });
});
