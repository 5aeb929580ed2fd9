import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { run } from "../src/exec/index.js";
import { createWorld } from "./fixtures/cli.js";

describe("schedule", () => {
  test("install writes a oneshot service and a persistent timer per scheduled plan", async () => {
    await using w = await createWorld();
    await w.writeConfig(w.basicConfig([w.data], 'schedule = "Mon..Fri 02:30"'));
    const dir = join(w.dir, "units");
    const r = await w.cli(["schedule", "install", "--dir", dir]);
    expect(r.exitCode).toBe(0);
    expect((await readdir(dir)).sort()).toEqual(["snapback-p.service", "snapback-p.timer"]);
    const timer = await readFile(join(dir, "snapback-p.timer"), "utf8");
    expect(timer).toContain("OnCalendar=Mon..Fri 02:30");
    expect(timer).toContain("Persistent=true");
    const service = await readFile(join(dir, "snapback-p.service"), "utf8");
    expect(service).toMatch(
      new RegExp(`ExecStart=.*node.* --config ${w.configPath} backup p$`, "m"),
    );
    expect(service).toContain("KillSignal=SIGINT");
    const verify = await run(
      "systemd-analyze",
      ["verify", join(dir, "snapback-p.timer"), join(dir, "snapback-p.service")],
      { reject: false },
    );
    expect(verify.stderr).not.toMatch(/snapback-p\.(service|timer):\d+:/);
  });

  test("a schedule systemd cannot parse is named", async () => {
    await using w = await createWorld();
    await w.writeConfig(w.basicConfig([w.data], 'schedule = "every full moon"'));
    const r = await w.cli(["schedule", "show"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(
      'plans.p.schedule: "every full moon" is not a systemd calendar expression',
    );
  });
});
