import type { Config } from "../config/schema.js";
import { HARDENING, type UnitSetting } from "./hardening.js";

/**
 * systemd units: a oneshot service and a timer per scheduled plan (`schedule show|install`), the
 * per-plan template `snapback@.service` and the daemon's `snapback-serve.service` (`make install`).
 * All of them come from here so that `schedule install`, `make install` and the NixOS module
 * (which reads the same settings from nix/hardening.json) ship one hardening.
 */
export interface UnitFile {
  name: string;
  text: string;
}

export interface BackupUnitOptions {
  /** `snapback` and the arguments before the command, e.g. [node, /path/snapback.js]. */
  snapback: readonly string[];
  /** Extra global arguments, e.g. ["--config", path]. */
  globalArgs: readonly string[];
  /** The plan name, or "%i" for the template. */
  plan: string;
  /** Hold a sleep inhibitor lock while the backup runs (systemd-inhibit). */
  inhibitSleep: boolean;
}

/** Where `systemd-inhibit` lives on Debian and most distributions. */
export const SYSTEMD_INHIBIT = "/usr/bin/systemd-inhibit";

export function backupService(o: BackupUnitOptions): string {
  const backup = [...o.snapback, ...o.globalArgs, "backup", o.plan];
  const exec = o.inhibitSleep
    ? [
        SYSTEMD_INHIBIT,
        "--what=sleep:shutdown",
        "--who=snapback",
        `--why=backup of plan ${o.plan}`,
        "--mode=block",
        ...backup,
      ]
    : backup;
  return render([
    [
      "Unit",
      [
        ["Description", `snapback backup of plan ${o.plan}`],
        ["Documentation", "man:snapback(1)"],
        ["Wants", "network-online.target"],
        ["After", "network-online.target"],
      ],
    ],
    [
      "Service",
      [
        ["Type", "oneshot"],
        ["ExecStart", exec.map(systemdQuote).join(" ")],
        // SIGINT lets restic remove its lock; snapback itself unwinds snapshots and mounts.
        ["KillSignal", "SIGINT"],
        ["TimeoutStopSec", "5min"],
        ...HARDENING.map(settingPair),
      ],
    ],
  ]);
}

export function timerUnit(plan: string, schedule: string): string {
  return render([
    ["Unit", [["Description", `snapback backup of plan ${plan} (${schedule})`]]],
    [
      "Timer",
      [
        ["OnCalendar", schedule],
        // A run missed while the machine was off happens at the next boot.
        ["Persistent", "true"],
        ["RandomizedDelaySec", "5min"],
      ],
    ],
    ["Install", [["WantedBy", "timers.target"]]],
  ]);
}

export function serveService(snapback: readonly string[], globalArgs: readonly string[]): string {
  return render([
    [
      "Unit",
      [
        ["Description", "snapback service: scheduler, web UI, HTTP API and D-Bus"],
        ["Documentation", "man:snapback(1)"],
        ["Wants", "network-online.target"],
        ["After", "network-online.target"],
      ],
    ],
    [
      "Service",
      [
        ["Type", "notify"],
        // READY=1 comes through systemd-notify on the daemon's behalf.
        ["NotifyAccess", "all"],
        ["ExecStart", [...snapback, ...globalArgs, "serve"].map(systemdQuote).join(" ")],
        // SIGTERM: the daemon stops its running backups (restic gets SIGINT) and exits 0.
        ["KillMode", "mixed"],
        ["TimeoutStopSec", "5min"],
        ["Restart", "on-failure"],
        ...HARDENING.map(settingPair),
      ],
    ],
    ["Install", [["WantedBy", "multi-user.target"]]],
  ]);
}

/** The oneshot service and timer of every plan that has a `schedule`. */
export function unitsFor(
  config: Config,
  configPath: string,
  snapbackCommand: readonly string[],
  inhibitSleepDefault = false,
): UnitFile[] {
  const units: UnitFile[] = [];
  for (const [plan, p] of Object.entries(config.plans)) {
    if (p.schedule === undefined) continue;
    const base = `snapback-${plan}`;
    units.push({
      name: `${base}.service`,
      text: backupService({
        snapback: snapbackCommand,
        globalArgs: ["--config", configPath],
        plan,
        inhibitSleep: p.inhibit_sleep ?? inhibitSleepDefault,
      }),
    });
    units.push({ name: `${base}.timer`, text: timerUnit(plan, p.schedule) });
  }
  return units;
}

type Section = readonly [string, readonly (readonly [string, string])[]];

function settingPair(s: UnitSetting): readonly [string, string] {
  return [s.key, s.value];
}

function render(sections: readonly Section[]): string {
  return sections
    .map(([name, pairs]) => [`[${name}]`, ...pairs.map(([k, v]) => `${k}=${v}`), ""].join("\n"))
    .join("\n");
}

/** systemd's ExecStart quoting: double quotes, with backslash escapes, and % doubled. */
export function systemdQuote(arg: string): string {
  // "%i" is the template's instance name and must stay a specifier.
  if (arg === "%i") return arg;
  const escaped = arg.replace(/%/g, "%%");
  return /^[\w@%+=:,./-]+$/.test(escaped) ? escaped : `"${escaped.replace(/[\\"]/g, "\\$&")}"`;
}
