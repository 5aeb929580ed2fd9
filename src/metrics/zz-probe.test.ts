import { mkdtemp, rm, readFile, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "vitest";
import { writeMetrics } from "./zz-noqueue.js";
import { run } from "./test-support.js";
test("probe", async () => {
  let bad = 0;
  const errors = new Set<string>();
  for (let round = 0; round < 300; round++) {
    const dir = await mkdtemp(join(tmpdir(), "snapback-probe-"));
    const file = join(dir, "snapback.prom");
    const plans = ["p1", "p2", "p3", "p4", "p5", "p6"];
    try {
      await Promise.all(plans.map((p) => writeMetrics(file, [run(p, "success", ["r"])], new Date())));
      const text = await readFile(file, "utf8");
      const missing = plans.filter((p) => !text.includes(`plan="${p}"`));
      const left = await readdir(dir);
      if (missing.length || left.length !== 1) { bad++; errors.add(`missing ${missing} left ${left}`); }
    } catch (e) { bad++; errors.add(String(e)); }
    await rm(dir, { recursive: true, force: true });
  }
  process.stderr.write(`PROBE bad ${bad} ${[...errors].join(" | ")}\n`);
});
