import type { Plan, ResticRepository } from "../../config/schema.js";
import { UsageError } from "../../errors.js";
import type { ResticBinary } from "./binary.js";
import { versionAtLeast } from "./binary.js";
import type { ExtraArgsCommand } from "../../config/restic.js";

/** The restic version a first-class key needs: [major, minor, flag]. */
const NEEDS = {
  compression: [0, 14, "--compression"],
  pack_size: [0, 14, "--pack-size"],
  limit_upload: [0, 0, "--limit-upload"],
  limit_download: [0, 0, "--limit-download"],
  read_concurrency: [0, 15, "--read-concurrency"],
} as const;

function requireVersion(
  keyPath: string,
  key: keyof typeof NEEDS,
  binary: ResticBinary | undefined,
): void {
  const [major, minor, flag] = NEEDS[key];
  if (binary !== undefined && !versionAtLeast(binary.semver, major, minor)) {
    throw new UsageError(
      `${keyPath}: ${binary.path} is restic ${binary.version}, which has no ${flag} (needs restic ${major}.${minor} or newer)`,
      { hint: `remove ${key} or run a newer restic` },
    );
  }
}

/**
 * restic's global flags for a repository's first-class keys (compression, pack size, rate
 * limits), checked against the binary: an old restic would reject an unknown flag only after
 * the run had started, or worse, in the middle of a plan with several repositories.
 */
export function repositoryTuningArgs(
  repoName: string,
  repo: ResticRepository,
  /** Without one (a dry run's description) nothing is checked. */
  binary: ResticBinary | undefined,
): string[] {
  const args: string[] = [];
  const add = (key: keyof typeof NEEDS, value: string | number | undefined): void => {
    if (value === undefined) return;
    requireVersion(`repositories.${repoName}.${key} = ${JSON.stringify(value)}`, key, binary);
    args.push(`${NEEDS[key][2]}=${value}`);
  };
  add("compression", repo.compression);
  add("pack_size", repo.pack_size);
  add("limit_upload", repo.limit_upload);
  add("limit_download", repo.limit_download);
  return args;
}

/** `restic backup` flags of a plan's first-class keys. */
export function planBackupTuningArgs(
  planName: string,
  plan: Pick<Plan, "read_concurrency">,
  binary: ResticBinary,
): string[] {
  if (plan.read_concurrency === undefined) return [];
  requireVersion(
    `plans.${planName}.read_concurrency = ${plan.read_concurrency}`,
    "read_concurrency",
    binary,
  );
  return [`--read-concurrency=${plan.read_concurrency}`];
}

/** A repository's extra_args for one command. */
export function repositoryExtraArgs(repo: ResticRepository, command: string): string[] {
  return isExtraArgsCommand(command) ? [...(repo.extra_args?.[command] ?? [])] : [];
}

function isExtraArgsCommand(c: string): c is ExtraArgsCommand {
  return ["backup", "forget", "prune", "check", "restore"].includes(c);
}

/**
 * `args` with `extra` appended after snapback's own flags but before a "--" that ends them
 * (after it, restic would read the flags as paths).
 */
export function withExtraArgs(args: readonly string[], extra: readonly string[]): string[] {
  if (extra.length === 0) return [...args];
  const end = args.indexOf("--");
  return end === -1 ? [...args, ...extra] : [...args.slice(0, end), ...extra, ...args.slice(end)];
}
