import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { createWorld, leftovers } from "./fixtures/cli.js";

describe("failures leave nothing behind", () => {
  test("wrong password: names the repository, exit 2, no snapshot or mount left", async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "f"), "x");
    const wrong = join(w.dir, "wrong.pass");
    await writeFile(wrong, "not the password\n", { mode: 0o600 });
    await w.writeConfig(w.basicConfig([w.data]).replace(w.repo.passwordFile, wrong));
    const r = await w.cli(["backup"]);
    expect(r.stderr).toMatch(/repository "r".*wrong password/);
    expect(r.stderr).not.toMatch(/not the password/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.exitCode).toBe(2);
    expect(await leftovers(w)).toEqual([]);
  });

  test("unreachable repository (an outage per the contract): exit 1, clear message, nothing left", async () => {
    await using w = await createWorld();
    await w.writeConfig(
      w.basicConfig([w.data]).replace(`url = "${w.repo.url}"`, 'url = "rest:http://127.0.0.1:9/"'),
    );
    const r = await w.cli(["backup"]);
    expect(r.stderr).toMatch(/repository "r"/);
    expect(r.stderr).toMatch(/unreachable|connection refused|cannot reach/i);
    expect(r.exitCode).toBe(1);
    expect(await leftovers(w)).toEqual([]);
  });

  test("missing source: exit 2 naming the key and path, nothing created", async () => {
    await using w = await createWorld();
    const missing = join(w.data, "does-not-exist");
    await w.writeConfig(w.basicConfig([missing]));
    const r = await w.cli(["backup"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`plans.p.sources: ${missing} does not exist`);
    expect(await leftovers(w)).toEqual([]);
    expect((await w.repo.snapshots()).length).toBe(0);
  });

  test("a missing repository with init = false is named; with init = true it is created", async () => {
    await using w = await createWorld();
    const fresh = join(w.dir, "fresh-repo");
    const base = w.basicConfig([w.data]).replace(`url = "${w.repo.url}"`, `url = "${fresh}"`);
    await w.writeConfig(base);
    const r = await w.cli(["backup"]);
    expect(r.stderr).toMatch(/does not exist.*init = true/);
    expect(r.exitCode).toBe(2);
    await w.writeConfig(base.replace('engine = "restic"', 'engine = "restic"\ninit = true'));
    const ok = await w.cli(["backup"]);
    expect(ok.exitCode).toBe(0);
    expect(ok.stderr).toContain(
      `repository "r": created a new restic repository at ${fresh} (init = true)`,
    );
    const again = await w.cli(["backup"]);
    expect(again.exitCode).toBe(0);
    expect(again.stderr).not.toContain("created a new restic repository");
    expect(await leftovers(w)).toEqual([]);
  });
});
