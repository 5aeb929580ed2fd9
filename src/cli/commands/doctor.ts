import { access, constants } from "node:fs/promises";
import type { LoadedConfig } from "../../config/load.js";
import type { Config } from "../../config/schema.js";
import { missingFeatureNote, probeRestic, usedFeatures } from "../../engine/restic/index.js";
import { errorMessage } from "../../errors.js";
import { run, which } from "../../exec/index.js";
import { zfsCapabilities } from "../../snapshot/zfs/index.js";
import { parseCommand } from "../args.js";
import type { Command } from "../command.js";

interface Check {
  name: string;
  /** restic checks of a repository: its binary's version and the features snapback uses. */
  repository?: string;
  version?: string;
  features?: string[];
  ok: boolean;
  /** Required for any backup; optional checks only warn. */
  required: boolean;
  detail: string;
  fix?: string;
}

export const doctorCommand: Command = {
  name: "doctor",
  summary: "check prerequisites and say what to fix",
  usage: "snapback doctor",
  async run(argv, io) {
    const { global, help } = parseCommand("doctor", argv, {});
    if (help) {
      io.print(this.usage);
      return 0;
    }
    const checks = await runChecks(
      global.config !== undefined || process.env["SNAPBACK_CONFIG"] !== undefined
        ? () => io.load(global)
        : undefined,
    );
    const ok = checks.every((c) => c.ok || !c.required);
    if (global.json) io.printJson({ ok, checks });
    else {
      for (const c of checks) {
        io.print(`${c.ok ? "ok  " : c.required ? "FAIL" : "warn"} ${c.name}: ${c.detail}`);
        if (!c.ok && c.fix) io.print(`     fix: ${c.fix}`);
      }
      io.print(
        ok
          ? "snapback can run here"
          : "snapback cannot run here until the failures above are fixed",
      );
    }
    return ok ? 0 : 1;
  },
};

async function runChecks(loadConfig?: () => Promise<LoadedConfig>): Promise<Check[]> {
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
      fix: "apt-get install util-linux mount",
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

  if (loadConfig) {
    try {
      const { config } = await loadConfig();
      checks.push({ name: "config", ok: true, required: true, detail: "valid" });
      checks.push(...(await repositoryResticChecks(config)));
    } catch (e) {
      checks.push({ name: "config", ok: false, required: true, detail: errorMessage(e) });
    }
  }
  return checks;
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
