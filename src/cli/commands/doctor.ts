import { access, constants } from "node:fs/promises";
import { missingFeatureNote, probeRestic, usedFeatures } from "../../engine/restic/index.js";
import type { Config } from "../../config/schema.js";
import { dbusDoctorChecks } from "../../dbus/index.js";
import { errorMessage } from "../../errors.js";
import { run, which } from "../../exec/index.js";
import { zfsCapabilities } from "../../snapshot/zfs/index.js";
import { defineCommand } from "../command.js";
import { DEFAULT_CONFIG_PATH, type LoadedConfig } from "../../config/load.js";
import { checkConfigHere, type Finding } from "../../preflight/index.js";
import { aptLine, formatFindings } from "./findings.js";
import { requirePlans } from "./plans.js";

/** Required for any backup when `required`; optional checks only warn. restic checks of a
 * repository also carry its binary's version and the features snapback uses. */
type Check = Finding & { repository?: string; version?: string; features?: string[] };

export const doctorCommand = defineCommand({
  name: "doctor",
  summary: "check prerequisites and say what to fix",
  options: {},
  examples: [
    {
      command: "snapback doctor",
      description: "what is installed, what is missing, and how to fix it",
    },
    {
      command: "snapback --config /etc/snapback/snapback.toml doctor",
      description: "also check that config",
    },
  ],
  async run({ global }, io) {
    const checks = await runChecks();
    checks.push(...(await configChecks(global.config, () => io.load(global))));
    const ok = checks.every((c) => c.ok || !c.required);
    if (global.json) io.printJson({ ok, checks, apt: aptLine(checks) ?? null });
    else {
      for (const line of formatFindings(checks)) io.print(line);
      io.print(
        ok
          ? "snapback can run here"
          : "snapback cannot run here until the failures above are fixed",
      );
    }
    return ok ? 0 : 1;
  },
});

async function runChecks(): Promise<Check[]> {
  const checks: Check[] = [];
  const isRoot = process.getuid?.() === 0;
  checks.push({
    name: "root",
    ok: isRoot,
    required: true,
    detail: isRoot ? "running as root" : "not root",
    fix: "snapshots and mount namespaces need root: run with sudo",
  });

  try {
    const r = await probeRestic();
    const features = [...r.features];
    checks.push({
      name: "restic",
      ok: true,
      required: true,
      detail: `${r.version} at ${r.path}${features.length ? `; features: ${features.join(", ")}` : ""}${r.features.has("device-id-for-hardlinks") ? "" : " (no device-id-for-hardlinks: directory metadata is re-read each run; restic >= 0.17 avoids it)"}`,
    });
  } catch (e) {
    checks.push({
      name: "restic",
      ok: false,
      required: true,
      detail: errorMessage(e),
      fix: "apt-get install restic (or put restic on PATH)",
      packages: ["restic"],
    });
  }

  const btrfs = await run("btrfs", ["--version"], { reject: false }).catch(() => undefined);
  checks.push(
    btrfs?.exitCode === 0
      ? { name: "btrfs-progs", ok: true, required: false, detail: btrfs.stdout.trim() }
      : {
          name: "btrfs-progs",
          ok: false,
          required: false,
          detail: "btrfs not found (btrfs sources cannot be snapshotted)",
          fix: "apt-get install btrfs-progs",
          packages: ["btrfs-progs"],
        },
  );

  try {
    const caps = await zfsCapabilities();
    checks.push({
      name: "zfs",
      ok: caps.available,
      required: false,
      detail: describeCaps(caps),
      ...(caps.available
        ? {}
        : { fix: "apt-get install zfsutils-linux (OpenZFS) or zfs-fuse, and start it" }),
    });
  } catch (e) {
    checks.push({ name: "zfs", ok: false, required: false, detail: errorMessage(e) });
  }

  for (const tool of ["unshare", "setpriv", "findmnt", "mount"]) {
    const path = await which(tool);
    checks.push({
      name: tool,
      ok: path !== undefined,
      required: true,
      detail: path ?? "not found",
      fix: `apt-get install ${tool === "mount" ? "mount" : "util-linux"}`,
      packages: [tool === "mount" ? "mount" : "util-linux"],
    });
  }
  const mntns = await access("/proc/self/ns/mnt", constants.R_OK).then(
    () => true,
    () => false,
  );
  checks.push({
    name: "mount namespaces",
    ok: mntns,
    required: true,
    detail: mntns ? "available" : "kernel lacks mount namespaces (/proc/self/ns/mnt)",
  });

  checks.push(...(await dbusDoctorChecks()));
  return checks;
}

/**
 * The config doctor looks at: the one named (--config, $SNAPBACK_CONFIG), which must load, or
 * the default one when it exists — a machine's setup is part of whether snapback can run
 * here. A loaded config is checked against this machine like `config validate --deep`.
 */
export async function configChecks(
  flag: string | undefined,
  load: () => Promise<LoadedConfig>,
  env: NodeJS.ProcessEnv = process.env,
  defaultPath = DEFAULT_CONFIG_PATH,
): Promise<Check[]> {
  const path = flag ?? env["SNAPBACK_CONFIG"] ?? defaultPath;
  const named = flag !== undefined || env["SNAPBACK_CONFIG"] !== undefined;
  if (!named && !(await exists(path)))
    return [
      {
        name: "config",
        ok: false,
        required: false,
        detail: `no config at ${path}`,
        fix: `write ${path} (see README) or pass --config FILE`,
      },
    ];
  let loaded: LoadedConfig;
  try {
    loaded = await load();
    requirePlans(loaded.path, loaded.config);
  } catch (e) {
    return [{ name: "config", ok: false, required: true, detail: errorMessage(e) }];
  }
  return [
    { name: "config", ok: true, required: true, detail: `${loaded.path}: valid` },
    ...(await repositoryResticChecks(loaded.config)),
    ...(await checkConfigHere(loaded.config)),
  ];
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Each restic repository's own binary (`restic_binary`, else the global one, else PATH). */
async function repositoryResticChecks(config: Config): Promise<Check[]> {
  const checks: Check[] = [];
  for (const [name, repo] of Object.entries(config.repositories)) {
    if (repo.engine !== "restic") continue;
    const wanted = repo.restic_binary ?? config.restic_binary ?? "restic";
    try {
      const r = await probeRestic(wanted);
      const note = missingFeatureNote(r);
      const used = usedFeatures(r);
      checks.push({
        name: `restic (repository "${name}")`,
        repository: name,
        version: r.version,
        features: used,
        ok: true,
        required: true,
        detail: `${r.version} at ${r.path}; features used: ${used.join(", ") || "none"}${note ? ` (${note})` : ""}`,
      });
    } catch (e) {
      checks.push({
        name: `restic (repository "${name}")`,
        repository: name,
        ok: false,
        required: true,
        detail: errorMessage(e),
        fix:
          repo.restic_binary !== undefined
            ? `repositories.${name}.restic_binary = "${repo.restic_binary}": install restic there or fix the path`
            : config.restic_binary !== undefined
              ? `restic_binary = "${config.restic_binary}": install restic there or fix the path`
              : "apt-get install restic (or put restic on PATH)",
        packages: ["restic"],
      });
    }
  }
  return checks;
}

function describeCaps(caps: Awaited<ReturnType<typeof zfsCapabilities>>): string {
  if (!caps.available) return "zfs not available (ZFS sources cannot be snapshotted)";
  return Object.entries(caps)
    .filter(([k]) => k !== "available")
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(", ");
}
