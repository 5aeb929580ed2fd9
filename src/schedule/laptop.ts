import { readdir, readFile } from "node:fs/promises";

/** SMBIOS chassis types of portable machines (DMTF DSP0134: portable, laptop, notebook, ...). */
const PORTABLE_CHASSIS = new Set([8, 9, 10, 14, 30, 31, 32]);

/**
 * Whether this machine is a laptop: a sleeping laptop would cut a backup in half, so units
 * inhibit sleep there unless the plan says otherwise. `sys` is a parameter for tests.
 */
export async function isLaptop(sys = "/sys"): Promise<boolean> {
  const chassis = await readFile(`${sys}/class/dmi/id/chassis_type`, "utf8").catch(() => "");
  if (PORTABLE_CHASSIS.has(Number(chassis.trim()))) return true;
  const supplies = await readdir(`${sys}/class/power_supply`).catch(() => []);
  return supplies.some((s) => s.startsWith("BAT"));
}
