import type { Config } from "../config/schema.js";
import { which } from "../exec/index.js";
import type { Finding } from "./index.js";

/**
 * The programs that carry the data to the repositories in use (ssh for sftp and remote
 * replication targets, rclone), each with the Debian package that provides it: without them a
 * repository "cannot be opened" for a reason the error alone would not make obvious.
 */
export async function transportFindings(
  config: Config,
  repositories: Iterable<string>,
): Promise<Finding[]> {
  const needs = new Map<string, { pkg: string; why: string }>();
  for (const name of repositories) {
    const repo = config.repositories[name];
    if (repo === undefined) continue;
    if (repo.engine === "restic" && repo.url.startsWith("sftp:") && !needs.has("ssh"))
      needs.set("ssh", { pkg: "openssh-client", why: `repository ${name} is reached over sftp` });
    if (repo.engine === "restic" && repo.url.startsWith("rclone:") && !needs.has("rclone"))
      needs.set("rclone", { pkg: "rclone", why: `repository ${name} is an rclone remote` });
    if ((repo.engine === "btrfs" || repo.engine === "zfs") && repo.ssh && !needs.has("ssh"))
      needs.set("ssh", { pkg: "openssh-client", why: `target ${name} is reached over ssh` });
  }
  const findings: Finding[] = [];
  for (const [command, { pkg, why }] of needs) {
    const path = await which(command);
    findings.push({
      name: command,
      ok: path !== undefined,
      required: true,
      detail: path ?? `not found (${why})`,
      ...(path ? {} : { fix: `apt-get install ${pkg}`, exitCode: 2, packages: [pkg] }),
    });
  }
  return findings;
}
