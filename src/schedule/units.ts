import type { Config } from "../config/schema.js";

/**
 * systemd units that run each scheduled plan: a oneshot service and a timer with the plan's
 * `schedule` as OnCalendar. Pure: `schedule show` prints them, `schedule install` writes them.
 */
export interface UnitFile {
  name: string;
  text: string;
}

export function unitsFor(
  config: Config,
  configPath: string,
  snapbackCommand: readonly string[],
): UnitFile[] {
  const units: UnitFile[] = [];
  for (const [plan, p] of Object.entries(config.plans)) {
    if (p.schedule === undefined) continue;
    const base = `snapback-${plan}`;
    const exec = [...snapbackCommand, "--config", configPath, "backup", plan]
      .map(systemdQuote)
      .join(" ");
    units.push({
      name: `${base}.service`,
      text: [
        "[Unit]",
        `Description=snapback backup of plan ${plan}`,
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=oneshot",
        `ExecStart=${exec}`,
        // SIGINT lets restic remove its lock; snapback itself unwinds snapshots and mounts.
        "KillSignal=SIGINT",
        "TimeoutStopSec=5min",
        "Nice=10",
        "IOSchedulingClass=idle",
        "",
      ].join("\n"),
    });
    units.push({
      name: `${base}.timer`,
      text: [
        "[Unit]",
        `Description=snapback backup of plan ${plan} (${p.schedule})`,
        "",
        "[Timer]",
        `OnCalendar=${p.schedule}`,
        // A run missed while the machine was off happens at the next boot.
        "Persistent=true",
        "RandomizedDelaySec=5min",
        "",
        "[Install]",
        "WantedBy=timers.target",
        "",
      ].join("\n"),
    });
  }
  return units;
}

/** systemd's ExecStart quoting: double quotes, with backslash escapes, and % doubled. */
export function systemdQuote(arg: string): string {
  const escaped = arg.replace(/%/g, "%%");
  return /^[\w@%+=:,./-]+$/.test(escaped) ? escaped : `"${escaped.replace(/[\\"]/g, "\\$&")}"`;
}
