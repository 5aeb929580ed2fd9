import { describe, expect, it } from "vitest";
import { classifyFailure, failureKind, mainLine } from "./errors.js";

const base = { exitCode: 1, signal: null, aborted: false } as const;
const input = (stderr: string) => ({
  ...base,
  stderr,
  repoName: "offsite",
  configFile: "/etc/snapback/kopia.config",
  action: "snapshot create",
  secrets: ["hunter22"],
});

describe("kopia failures", () => {
  it("classifies kopia's own messages", () => {
    const kinds = [
      [
        "ERROR failed to open repository: unable to create format manager: invalid repository password\nERROR open repository: unable to open repository: unable to create format manager: invalid repository password",
        "wrong-password",
      ],
      [
        "ERROR open repository: get password: password prompt error: inappropriate ioctl for device",
        "no-password",
      ],
      [
        "ERROR open repository: repository is not connected. See https://kopia.io/docs/repositories/",
        "not-connected",
      ],
      [
        "ERROR open repository: unable to open repository: error connecting to SFTP server: dial tcp 192.0.2.1:22: connect: connection refused",
        "unreachable",
      ],
      [
        "ERROR open repository: unable to open repository: unable to read format blob: error getting kopia.repository blob: BLOB not found",
        "repo-missing",
      ],
      ["kopia: error: unknown long flag '--json-verbose', try --help", "unsupported"],
      ["ERROR upload error: write /x: no space left on device", "disk-full"],
      ["ERROR something else", "other"],
    ] as const;
    for (const [stderr, kind] of kinds) expect(failureKind({ ...base, stderr }), stderr).toBe(kind);
    expect(failureKind({ ...base, exitCode: null, signal: "SIGINT", stderr: "" })).toBe("killed");
    expect(failureKind({ ...base, aborted: true, stderr: "invalid repository password" })).toBe(
      "killed",
    );
  });

  it("names the repository by its config name, with exit codes of the contract and no secret", () => {
    const wrong = classifyFailure(
      input(
        "ERROR open repository: unable to open repository: unable to create format manager: invalid repository password",
      ),
    );
    expect(wrong).toMatchObject({
      kind: "wrong-password",
      exitCode: 2,
      message: 'repository "offsite": wrong password (kopia: invalid repository password)',
    });
    expect(wrong.hint).toBe("check repositories.offsite.password_file / password_command");
    const unreachable = classifyFailure(
      input(
        "12:00:01.123 ERROR open repository: unable to open repository: dial tcp 10.9.9.9:22: i/o timeout (password hunter22)",
      ),
    );
    expect(unreachable.message).toBe(
      'repository "offsite" is unreachable: dial tcp 10.9.9.9:22: i/o timeout (password ***)',
    );
    expect(unreachable.exitCode).toBe(1);
    const nc = classifyFailure(
      input(
        "ERROR open repository: repository is not connected. See https://kopia.io/docs/repositories/",
      ),
    );
    expect(nc.message).toBe(
      'repository "offsite" is not connected: kopia config file /etc/snapback/kopia.config does not exist',
    );
    expect(classifyFailure(input("ERROR boom")).message).toBe(
      'kopia snapshot create for repository "offsite" failed (exit 1): boom',
    );
  });

  it("picks the last ERROR line without kopia's wrapper prefixes", () => {
    expect(
      mainLine(
        "Snapshotting root@h:/x ...\nERROR open repository: unable to open repository: bad thing\n",
      ),
    ).toBe("bad thing");
    expect(mainLine("just text\n")).toBe("just text");
  });
});
