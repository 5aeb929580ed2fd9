import { UsageError } from "../errors.js";
import { run, which } from "../exec/index.js";

/** Every schedule must be a calendar expression systemd understands (when it is installed). */
export async function validateCalendars(config: {
  plans: Record<string, { schedule?: string | undefined }>;
}): Promise<void> {
  if (!(await which("systemd-analyze"))) return;
  for (const [plan, p] of Object.entries(config.plans)) {
    if (p.schedule === undefined) continue;
    const r = await run("systemd-analyze", ["calendar", p.schedule], { reject: false });
    if (r.exitCode !== 0) {
      throw new UsageError(
        `plans.${plan}.schedule: "${p.schedule}" is not a systemd calendar expression (see man systemd.time)`,
      );
    }
  }
}
