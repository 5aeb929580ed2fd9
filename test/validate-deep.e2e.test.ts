import { access, chmod, copyFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { createWorld } from "./fixtures/cli.js";

interface Doc {
  valid?: boolean;
  ok?: boolean;
  checks: { name: string; ok: boolean; required: boolean; detail: string }[];
}

function failing(doc: Doc): Record<string, string> {
  return Object.fromEntries(
    doc.checks.filter((c) => !c.ok && c.required).map((c) => [c.name, c.detail]),
  );
}

describe("config validate --deep and doctor check this machine", () => {
  test("a config that cannot run here: plain validate passes the schema, --deep names every problem, exit 2", async () => {
    await using w = await createWorld();
    const missingSource = join(w.dir, "no-such-source");
    const openPass = join(w.dir, "open.pass");
    await copyFile(w.repo.passwordFile, openPass);
    await chmod(openPass, 0o644);
    const wrongPass = join(w.dir, "wrong.pass");
    await writeFile(wrongPass, "not the password\n", { mode: 0o600 });
    const noPass = join(w.dir, "no-such.pass");
    const metrics = join(w.dir, "no-such-dir", "snapback.prom");
    await w.writeConfig(
      [
        w.basicConfig([w.data]),
        `[[plans.p.hooks]]\nwhen = "before"\nname = "stop-app"\nrun = ["snapback-no-such-program"]`,
        `[[plans.p.databases]]\ntype = "sqlite"\nname = "gone"\npath = "${join(w.dir, "gone.db")}"`,
        `[[plans.p.databases]]\ntype = "mysql"\nname = "shop"\ndatabase = "shop"\npassword_file = "${openPass}"`,
        `[plans.gone]\nsources = ["${missingSource}"]\nrepositories = ["open", "missing", "wrong", "down"]`,
        `[repositories.open]\nengine = "restic"\nurl = "${w.repo.url}"\npassword_file = "${openPass}"`,
        `[repositories.missing]\nengine = "restic"\nurl = "${w.repo.url}"\npassword_file = "${noPass}"`,
        `[repositories.wrong]\nengine = "restic"\nurl = "${w.repo.url}"\npassword_file = "${wrongPass}"`,
        `[repositories.down]\nengine = "restic"\nurl = "rest:http://127.0.0.1:9/"\npassword_file = "${w.repo.passwordFile}"`,
        `[metrics]\ntextfile = "${metrics}"`,
      ].join("\n"),
    );
    const plain = await w.cli(["config", "validate"]);
    expect(plain.exitCode).toBe(0);
    expect(plain.stdout).toContain("--deep");

    const deep = await w.cli(["--json", "config", "validate", "--deep"]);
    expect(deep.exitCode).toBe(2);
    const doc = JSON.parse(deep.stdout) as Doc;
    expect(doc.valid).toBe(false);
    const bad = failing(doc);
    expect(bad["plans.gone.sources"]).toBe(`plans.gone.sources: ${missingSource} does not exist`);
    expect(bad["repositories.open"]).toMatch(
      /password_file: .*readable by other users \(mode 644\)/,
    );
    expect(bad["repositories.missing"]).toContain(`${noPass} does not exist`);
    expect(bad["repositories.wrong"]).toMatch(/wrong password/);
    expect(bad["repositories.down"]).toMatch(/unreachable|connection refused/i);
    expect(bad["plans.p.hooks[0] (stop-app).run"]).toContain(
      '"snapback-no-such-program" is not on PATH',
    );
    expect(bad["metrics.textfile"]).toContain("does not exist");
    expect(bad["plans.p.databases[0] (gone)"]).toBe(
      `path = "${join(w.dir, "gone.db")}" is not a file`,
    );
    expect(bad["plans.p.databases[1] (shop)"]).toMatch(
      /databases\[1\] \(shop\)\.password_file: .* readable by other users/,
    );
    // What is fine is said to be fine.
    expect(doc.checks.find((c) => c.name === "repositories.r")).toMatchObject({ ok: true });
    expect(doc.checks.find((c) => c.name === "plans.p.sources")?.detail).toBe(`${w.data} (btrfs)`);
    expect(doc.checks.find((c) => c.name === "restic")?.ok).toBe(true);
    expect(doc.checks.find((c) => c.name === "btrfs")?.ok).toBe(true);
    expect(deep.stdout).not.toContain("not the password");

    const text = await w.cli(["config", "validate", "--deep"]);
    expect(text.exitCode).toBe(2);
    expect(text.stdout).toMatch(/^FAIL plans\.gone\.sources: /m);
    expect(text.stdout).toContain("cannot run here");
    expect(text.stderr).not.toMatch(/\n\s+at /);

    const doctor = await w.cli(["--json", "doctor"]);
    expect(doctor.exitCode).toBe(1);
    const doctorDoc = JSON.parse(doctor.stdout) as Doc;
    expect(doctorDoc.ok).toBe(false);
    expect(Object.keys(failing(doctorDoc))).toEqual(Object.keys(bad));
  });

  test("a config that can run: --deep says so without creating a missing init = true repository", async () => {
    await using w = await createWorld();
    const fresh = join(w.dir, "fresh-repo");
    await w.writeConfig(
      w.basicConfig([w.data]).replace(`url = "${w.repo.url}"`, `url = "${fresh}"\ninit = true`),
    );
    const r = await w.cli(["config", "validate", "--deep"]);
    expect(r.stdout).toMatch(
      /^ok {3}repositories\.r: does not exist yet: the first backup creates it/m,
    );
    expect(r.stdout).toMatch(/valid \(1 plan, 1 repository\) and can run here$/m);
    expect(r.exitCode).toBe(0);
    await expect(access(fresh)).rejects.toThrow();
    const doctor = await w.cli(["doctor"]);
    expect(doctor.stdout).toContain("snapback can run here");
    expect(doctor.exitCode).toBe(0);
  });

  test("an empty config says it has no plans: validate, status and doctor, exit 2 (doctor 1)", async () => {
    await using w = await createWorld();
    await w.writeConfig(`state_dir = "${w.stateDir}"\n`);
    for (const args of [["config", "validate"], ["config", "validate", "--deep"], ["status"]]) {
      const r = await w.cli(args);
      expect(r.exitCode, args.join(" ")).toBe(2);
      expect(r.stderr).toContain(`${w.configPath} defines no plans`);
    }
    const doctor = await w.cli(["doctor"]);
    expect(doctor.exitCode).toBe(1);
    expect(doctor.stdout).toMatch(/^FAIL config: .* defines no plans/m);
  });
});
