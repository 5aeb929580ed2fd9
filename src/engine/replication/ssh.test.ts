import { describe, expect, it } from "vitest";
import { run } from "../../exec/index.js";
import { shellQuote, sshHost } from "./ssh.js";

describe("commands for another machine", () => {
  it("quotes every argument so the remote shell gets exactly the argv", async () => {
    const args = [
      "plain",
      "with space",
      "it's",
      '"dq"',
      "$HOME",
      "a;b",
      "*",
      "",
      "-n",
      "new\nline",
    ];
    const r = await run("sh", ["-c", `printf '%s\\0' ${shellQuote(args)}`]);
    expect(r.stdout.split("\0").slice(0, -1)).toEqual(args);
  });

  it("runs ssh in batch mode with the configured options before the destination", () => {
    const host = sshHost("backup@nas", ["-i", "/root/.ssh/backup", "-p", "2222"]);
    expect(host.remote).toBe(true);
    expect(host.command(["btrfs", "receive", "/mnt/backup/my dir"])).toEqual({
      file: "ssh",
      args: [
        "-o",
        "BatchMode=yes",
        "-i",
        "/root/.ssh/backup",
        "-p",
        "2222",
        "--",
        "backup@nas",
        "btrfs receive '/mnt/backup/my dir'",
      ],
    });
  });

  it("says clearly when the host cannot be reached", async () => {
    const host = sshHost(
      "root@127.0.0.1",
      ["-p", "1", "-o", "ConnectTimeout=5"],
      "repositories.r.ssh (root@127.0.0.1)",
    );
    await expect(host.run(["true"])).rejects.toThrow(
      /^cannot reach repositories\.r\.ssh \(root@127\.0\.0\.1\) over ssh: .*(refused|port 1)/,
    );
  });
});
