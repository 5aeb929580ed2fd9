import { access, constants } from "node:fs/promises";
import { probeRestic } from "../../engine/restic/index.js";
import { errorMessage } from "../../errors.js";
import { run, which } from "../../exec/index.js";
import { zfsCapabilities } from "../../snapshot/zfs/index.js";
import { defineCommand } from "../command.js";

interface Check {
  name: string;
  ok: boolean;
  /** Required for any backup; optional checks only warn. */
  required: boolean;
  detail: string;
  fix?: string;
}

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
});

async function runChecks(loadConfig?: () => Promise<unknown>): Promise<Check[]> {
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
      await loadConfig();
      checks.push({ name: "config", ok: true, required: true, detail: "valid" });
    } catch (e) {
      checks.push({ name: "config", ok: false, required: true, detail: errorMessage(e) });
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
