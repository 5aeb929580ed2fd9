import { isAbsolute } from "node:path";
import { ProcessError, run, which } from "../../exec/index.js";
import { KopiaError } from "./errors.js";

/** What one kopia binary is; probed once per path and process. */
export interface KopiaBinary {
  /** Absolute path: the command may run inside a namespace (or chroot) where PATH lookup differs. */
  path: string;
  /** "0.17.0" */
  version: string;
  /** The line `kopia --version` printed, for doctor and logs. */
  text: string;
}

const probes = new Map<string, Promise<KopiaBinary>>();

/** Probes `name` (default: kopia on PATH) once per process; a failed probe is retried. */
export function probeKopia(name = "kopia"): Promise<KopiaBinary> {
  let probe = probes.get(name);
  if (!probe) {
    probe = doProbe(name);
    probes.set(name, probe);
    probe.catch(() => probes.delete(name));
  }
  return probe;
}

async function doProbe(name: string): Promise<KopiaBinary> {
  const path = isAbsolute(name) ? name : await which(name);
  if (path === undefined) throw notFound(name);
  let out: string;
  try {
    const r = await run(path, ["--version"], { env: { KOPIA_CHECK_FOR_UPDATES: "false" } });
    // kingpin printed --version on stderr in older releases, on stdout in newer ones.
    out = `${r.stdout}\n${r.stderr}`;
  } catch (e) {
    if (e instanceof ProcessError && e.spawnCode === "ENOENT") throw notFound(name);
    const first = (e instanceof Error ? e.message : String(e)).split("\n")[0] ?? "";
    throw new KopiaError("other", undefined, `${path} --version failed: ${first}`, { cause: e });
  }
  const parsed = parseKopiaVersion(out);
  if (!parsed) {
    throw new KopiaError(
      "other",
      undefined,
      `${path} does not look like kopia: "kopia --version" printed "${out.trim().slice(0, 80)}"`,
    );
  }
  return { path, ...parsed };
}

function notFound(name: string): KopiaError {
  return new KopiaError(
    "not-found-binary",
    undefined,
    isAbsolute(name) ? `kopia not found at ${name}` : `kopia not found: "${name}" is not on PATH`,
    { hint: "install kopia (https://kopia.io/docs/installation/)" },
  );
}

/** Parses `kopia --version`, e.g. "0.17.0 build: 4f3e5f1c... from: kopia/kopia". */
export function parseKopiaVersion(text: string): { version: string; text: string } | undefined {
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const m = /^v?(\d+)\.(\d+)\.(\d+)(?:[-+][\w.-]+)?(?:\s|$)/.exec(line);
    if (m) return { version: `${m[1]}.${m[2]}.${m[3]}`, text: line };
  }
  return undefined;
}
