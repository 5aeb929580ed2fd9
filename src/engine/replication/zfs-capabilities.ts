import type { Host } from "./ssh.js";

/**
 * What one machine's `zfs` can do for replication, read from its usage text (the zfs-fuse of
 * the test machines has `receive [-vnF]`, OpenZFS `receive [-vMnsuF]`, `receive -A`,
 * `send -t <token>`). Detected on each side separately: the source sends, the target receives.
 */
export interface ZfsReplicationCapabilities {
  /** `receive -u`: do not mount what was received. */
  receiveNoMount: boolean;
  /** `receive -F`: roll back to the newest snapshot first (undoes atime and other changes). */
  receiveForce: boolean;
  /** `receive -s` with `send -t` and `receive -A`: an interrupted transfer can be resumed. */
  resumable: boolean;
  /** `zfs hold`/`release`: a held snapshot cannot be destroyed. */
  holds: boolean;
}

function usageLines(usage: string, command: string): string[] {
  return usage.split("\n").filter((l) => new RegExp(`^\\s*${command}(\\s|$)`).test(l));
}

/** The single-letter flags of `[-abc]` groups on a command's usage lines. */
function flags(lines: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const l of lines)
    for (const [, group = ""] of l.matchAll(/\[-([A-Za-z]+)\]/g)) for (const f of group) out.add(f);
  return out;
}

export function parseReplicationCapabilities(usage: string): ZfsReplicationCapabilities {
  const receive = usageLines(usage, "(receive|recv)");
  const send = usageLines(usage, "send");
  const recvFlags = flags(receive);
  return {
    receiveNoMount: recvFlags.has("u"),
    receiveForce: recvFlags.has("F"),
    resumable:
      recvFlags.has("s") &&
      send.some((l) => /-t\s+<?receive_resume_token/.test(l)) &&
      receive.some((l) => /\s-A\s/.test(l)),
    holds: usageLines(usage, "hold").length > 0 && usageLines(usage, "release").length > 0,
  };
}

/** `zfs` without arguments prints its usage (to stderr, exit 2). */
export async function replicationCapabilities(
  host: Host,
  signal?: AbortSignal,
): Promise<ZfsReplicationCapabilities> {
  const r = await host.run(["zfs"], { reject: false, ...(signal ? { signal } : {}) });
  return parseReplicationCapabilities(`${r.stdout}\n${r.stderr}`);
}
