import { describe, expect, it } from "vitest";
import { classifyFailure, failureKind } from "./errors.js";

const base = { exitCode: 1, signal: null, aborted: false } as const;

describe("failureKind", () => {
  it("trusts the exit codes of restic >= 0.17", () => {
    expect(failureKind({ ...base, exitCode: 10, stderr: "" })).toBe("repo-missing");
    expect(failureKind({ ...base, exitCode: 11, stderr: "" })).toBe("locked");
    expect(failureKind({ ...base, exitCode: 12, stderr: "" })).toBe("wrong-password");
    expect(failureKind({ ...base, exitCode: 130, stderr: "" })).toBe("killed");
  });

  it("reads restic 0.14's stderr (exit 1 for everything)", () => {
    const kind = (stderr: string): string => failureKind({ ...base, stderr });
    expect(kind("Fatal: wrong password or no key found\n")).toBe("wrong-password");
    expect(
      kind(
        "Fatal: unable to open config file: stat /srv/r/config: no such file or directory\nIs there a repository at the following location?\n/srv/r\n",
      ),
    ).toBe("repo-missing");
    expect(
      kind(
        'Fatal: unable to open config file: client.Head: Head "http://127.0.0.1:1/config": dial tcp 127.0.0.1:1: connect: connection refused\nIs there a repository at the following location?\nrest:http://127.0.0.1:1/\n',
      ),
    ).toBe("unreachable");
    expect(
      kind(
        "subprocess ssh: ssh: connect to host 127.0.0.1 port 22: Connection refused\nFatal: unable to open repository at sftp:foo@127.0.0.1:/x: unable to start the sftp session, error: read |0: file already closed\n",
      ),
    ).toBe("unreachable");
    expect(kind("Fatal: ... dial tcp: lookup nas.invalid: no such host")).toBe("unreachable");
    expect(
      kind(
        "Fatal: unable to create lock in backend: repository is already locked exclusively by PID 42 on nas by root (UID 0, GID 0)\nlock was created at 2024-01-01 10:00:00 (1m ago)\n",
      ),
    ).toBe("locked");
    expect(
      kind("Fatal: unable to save snapshot: write /srv/r/data/x: no space left on device"),
    ).toBe("disk-full");
    expect(kind("Fatal: something else entirely")).toBe("other");
  });

  it("calls an aborted or signalled run killed whatever it printed", () => {
    expect(failureKind({ ...base, aborted: true, stderr: "wrong password" })).toBe("killed");
    expect(failureKind({ ...base, exitCode: null, signal: "SIGKILL", stderr: "" })).toBe("killed");
  });
});

describe("classifyFailure", () => {
  const input = {
    repoName: "offsite",
    url: "rest:https://nas/",
    action: "backup",
    ...base,
    secrets: ["hunter22", "s3cr3t-key"],
  };

  it("names the repository by its config name", () => {
    const e = classifyFailure({ ...input, stderr: "Fatal: wrong password or no key found\n" });
    expect(e.kind).toBe("wrong-password");
    expect(e.message).toBe('repository "offsite": wrong password');
    expect(e.exitCode).toBe(2);
    expect(e.repository).toBe("offsite");
  });

  it("maps locked to exit 4 and keeps the reason", () => {
    const e = classifyFailure({
      ...input,
      stderr:
        "Fatal: unable to create lock in backend: repository is already locked by PID 42 on nas\n",
    });
    expect(e.kind).toBe("locked");
    expect(e.exitCode).toBe(4);
    expect(e.message).toContain('repository "offsite" is locked');
    expect(e.message).toContain("PID 42");
  });

  it("prefers 0.17's exit_error message and redacts secrets from message and tail", () => {
    const e = classifyFailure({
      ...input,
      exitCode: 1,
      stderr:
        'some noise with hunter22\n{"message_type":"exit_error","code":1,"message":"Fatal: s3 key s3cr3t-key rejected"}\n',
    });
    expect(e.kind).toBe("other");
    expect(e.message).toBe(
      'restic backup for repository "offsite" failed (exit 1): Fatal: s3 key *** rejected',
    );
    expect(e.stderrTail).not.toContain("hunter22");
    expect(e.stderrTail).not.toContain("s3cr3t-key");
  });

  it("tells the user how to create a missing repository", () => {
    const e = classifyFailure({ ...input, exitCode: 10, stderr: "" });
    expect(e.message).toBe(
      'repository "offsite" does not exist at rest:https://nas/ (set init = true to create it)',
    );
  });
});

describe("classifyFailure: remote repositories, locks and kills", () => {
  const input = {
    repoName: "offsite",
    url: "sftp:backup@nas:/srv/restic",
    action: "backup",
    ...base,
    secrets: [],
  };

  it("names what ssh said when the sftp session could not start", () => {
    const e = classifyFailure({
      ...input,
      stderr:
        "subprocess ssh: Warning: Permanently added '[nas]:22' to the list of known hosts.\nsubprocess ssh: root@nas: Permission denied (publickey).\nFatal: unable to open repository at sftp:backup@nas:/srv/restic: unable to start the sftp session, error: EOF\n",
    });
    expect(e.kind).toBe("unreachable");
    // A refused key is the user's to fix: exit 2, unlike an outage.
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe(
      'repository "offsite" at sftp:backup@nas:/srv/restic is unreachable: root@nas: Permission denied (publickey).',
    );
  });

  it("calls credentials refused by a REST server unreachable, not a missing repository", () => {
    const e = classifyFailure({
      ...input,
      url: "rest:http://127.0.0.1:8000/",
      stderr:
        "Fatal: unable to open config file: unexpected HTTP response (401): 401 Unauthorized\nIs there a repository at the following location?\nrest:http://u:***@127.0.0.1:8000/\n",
    });
    expect(e.kind).toBe("unreachable");
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(
      /is unreachable: unable to open config file: unexpected HTTP response \(401\)/,
    );
  });

  it("an outage (refused connection, DNS, timeout) is exit 1: transient, not a config error", () => {
    for (const stderr of [
      'Fatal: unable to open config file: Head "http://127.0.0.1:1/config": dial tcp 127.0.0.1:1: connect: connection refused\n',
      "Fatal: unable to open repository: dial tcp: lookup nas.invalid: no such host\n",
      "subprocess ssh: ssh: connect to host nas port 22: Connection timed out\nFatal: unable to open repository at sftp:backup@nas:/srv/restic: unable to start the sftp session, error: EOF\n",
      // restic exited before its goroutine copied ssh's stderr (seen in CI): still an outage.
      "Fatal: unable to open repository at sftp:root@127.0.0.1:/srv/restic: unable to start the sftp session, error: error receiving version packet from server: server unexpectedly closed connection: unexpected EOF\n",
    ]) {
      const e = classifyFailure({ ...input, stderr });
      expect(e.kind).toBe("unreachable");
      expect(e.exitCode).toBe(1);
    }
  });

  it("names the holder of the lock restic could not get", () => {
    const e = classifyFailure({
      ...input,
      stderr:
        "unable to create lock in backend: repository is already locked exclusively by PID 15193 on other-host by root (UID 0, GID 0)\nlock was created at 2026-11-22 02:56:24 (2.5s ago)\nstorage ID d5021921\nthe `unlock` command can be used to remove stale locks\n",
    });
    expect(e.exitCode).toBe(4);
    expect(e.message).toBe(
      'repository "offsite" is locked by another restic process: pid 15193 on host other-host (user root), since 2026-11-22 02:56:24',
    );
  });

  it("a restic killed by someone else is a failure (exit 1), stopped by snapback an interruption (130)", () => {
    const killed = classifyFailure({ ...input, exitCode: null, signal: "SIGKILL", stderr: "" });
    expect(killed.kind).toBe("killed");
    expect(killed.exitCode).toBe(1);
    expect(killed.message).toBe('restic backup for repository "offsite" was killed by SIGKILL');
    const stopped = classifyFailure({ ...input, exitCode: 130, aborted: true, stderr: "" });
    expect(stopped.exitCode).toBe(130);
    expect(stopped.message).toBe('restic backup for repository "offsite" was interrupted');
  });
});
