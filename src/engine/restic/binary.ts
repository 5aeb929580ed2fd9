import { isAbsolute } from "node:path";
import { ProcessError, run, which } from "../../exec/index.js";
import { ResticError } from "./errors.js";
import { cachedProbe, storeProbe, type CachedProbe } from "./probe-cache.js";

export interface ResticVersion {
  major: number;
  minor: number;
  patch: number;
  /** The first line of `restic version`, for doctor and logs. */
  text: string;
}

/** What one restic binary is and can do; probed once per path and process. */
export interface ResticBinary {
  /** Absolute path: the command may run inside a namespace where PATH lookup differs. */
  path: string;
  /** "0.14.0" */
  version: string;
  semver: ResticVersion;
  /** Feature flags listed by `restic features` (>= 0.17); empty when the command is missing. */
  features: ReadonlySet<string>;
}

const probes = new Map<string, Promise<ResticBinary>>();

/** Probes `path` (default: restic on PATH) once per process; a failed probe is retried. */
export function probeRestic(path = "restic"): Promise<ResticBinary> {
  let probe = probes.get(path);
  if (!probe) {
    probe = doProbe(path);
    probes.set(path, probe);
    probe.catch(() => probes.delete(path));
  }
  return probe;
}

async function doProbe(name: string): Promise<ResticBinary> {
  const path = isAbsolute(name) ? name : await which(name);
  if (path === undefined) throw notFound(name);
  const cached = await cachedProbe(path);
  if (cached !== undefined) return fromProbe(path, cached);
  let versionText: string;
  try {
    versionText = (await run(path, ["version"])).stdout;
  } catch (e) {
    if (e instanceof ProcessError && e.spawnCode === "ENOENT") throw notFound(name);
    throw new ResticError("other", undefined, `${path} version failed: ${firstLine(e)}`, {
      cause: e,
    });
  }
  if (parseResticVersion(versionText) === undefined) {
    throw new ResticError(
      "other",
      undefined,
      `${path} does not look like restic: "restic version" printed "${versionText.trim().slice(0, 80)}"`,
    );
  }
  // `features` appeared in 0.17; on older versions it is an unknown command. Nothing is guessed:
  // a feature restic does not list must never be passed (RESTIC_FEATURES rejects unknown names).
  const features = await run(path, ["features"], { reject: false });
  const probe = { versionText, featuresText: features.exitCode === 0 ? features.stdout : null };
  await storeProbe(path, probe);
  return fromProbe(path, probe);
}

function fromProbe(path: string, probe: CachedProbe): ResticBinary {
  const version = parseResticVersion(probe.versionText);
  if (version === undefined) throw notFound(path);
  return {
    path,
    version: `${version.major}.${version.minor}.${version.patch}`,
    semver: version,
    features: probe.featuresText === null ? new Set() : parseFeatures(probe.featuresText),
  };
}

function notFound(name: string): ResticError {
  return new ResticError(
    "not-found-binary",
    undefined,
    isAbsolute(name) ? `restic not found at ${name}` : `restic not found: "${name}" is not on PATH`,
    { hint: "install restic 0.14 or newer (apt-get install restic)" },
  );
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0] ?? "";
}

/** Parses `restic version` output, e.g. "restic 0.14.0 compiled with go1.19.8 on linux/amd64". */
export function parseResticVersion(text: string): ResticVersion | undefined {
  const line = text.split("\n").find((l) => /^restic\s/.test(l.trim()));
  const m = /^restic\s+v?(\d+)\.(\d+)\.(\d+)/.exec(line?.trim() ?? "");
  if (!m) return undefined;
  return {
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3]),
    text: line?.trim() ?? "",
  };
}

/**
 * Parses the table printed by `restic features`:
 *   Name                     Type    Default  Description
 *   device-id-for-hardlinks  alpha   false    store deviceID only for hardlinks ...
 */
export function parseFeatures(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    const [name, type] = line.trim().split(/\s+/);
    if (
      name &&
      type &&
      /^(alpha|beta|stable|deprecated)$/.test(type) &&
      /^[a-z0-9-]+$/.test(name)
    ) {
      names.add(name);
    }
  }
  return names;
}

/** Is `v` at least major.minor.patch? */
export function versionAtLeast(v: ResticVersion, major: number, minor: number, patch = 0): boolean {
  if (v.major !== major) return v.major > major;
  if (v.minor !== minor) return v.minor > minor;
  return v.patch >= patch;
}

/**
 * The name a stream is stored under. restic 0.18.0 refuses any `--stdin-filename` with a
 * directory in it ("open /snapback-databases: no such file or directory", restic#5324,
 * fixed in 0.18.1), so on that release the path is flattened into one top-level name that
 * keeps the suffix ("/snapback-databases/p/app.pg_dump" → "/snapback-databases__p__app.pg_dump").
 * Restores read the path the snapshot records, so both layouts restore alike.
 */
export function stdinFilenameFor(binary: Pick<ResticBinary, "semver">, filename: string): string {
  const v = binary.semver;
  if (!(v.major === 0 && v.minor === 18 && v.patch === 0)) return filename;
  return `/${filename.replace(/^\/+/, "").split("/").join("__")}`;
}
