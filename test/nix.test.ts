import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stringify } from "smol-toml";
import { describe, expect, test } from "vitest";
import { run } from "../src/exec/index.js";
import { HARDENING } from "../src/schedule/hardening.js";
import { backupService } from "../src/schedule/units.js";
import { snapback } from "./fixtures/cli.js";
import { unitSettings } from "./fixtures/unit-sandbox.js";

/**
 * What can be checked of the Nix files without nixpkgs (Debian's nix-bin 2.8, no network): every
 * file parses, and the module's pure part (nix/lib.nix, builtins only) evaluates to settings the
 * real CLI accepts and to units equal to the ones `schedule install` writes. The module proper
 * and the flake are exercised by nix/tests/snapback.nix on a machine with nixpkgs.
 */
const REPO = resolve(import.meta.dirname, "..");

async function nixEnv(): Promise<AsyncDisposable & { env: NodeJS.ProcessEnv }> {
  const dir = await mkdtemp(join(tmpdir(), "snapback-test-nix-"));
  // No nixbld group and no daemon here: a store-less evaluation as root.
  await writeFile(join(dir, "nix.conf"), "build-users-group =\n");
  return {
    env: { NIX_CONF_DIR: dir, NIX_STATE_DIR: join(dir, "state"), HOME: dir },
    [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }),
  };
}

async function nixEval(env: NodeJS.ProcessEnv, expr: string): Promise<unknown> {
  const r = await run(
    "nix-instantiate",
    ["--store", "dummy://", "--eval", "--strict", "--json", "-E", expr],
    { env, cwd: REPO, reject: false },
  );
  if (r.exitCode !== 0) throw new Error(`nix-instantiate failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

const SETTINGS = `{
  state_dir = "/var/lib/snapback";
  repositories.nas = { engine = "restic"; url = "sftp:backup@nas:/srv/restic"; password_file = "/run/keys/nas"; init = true; };
  plans.home = { sources = [ "/home" ]; repositories = [ "nas" ]; schedule = "Mon..Fri 02:30"; tags = [ "nightly" ]; retention = { keep_daily = 7; keep_weekly = 4; }; };
  plans.laptop = { sources = [ "/srv" ]; repositories = [ "nas" ]; schedule = "hourly"; inhibit_sleep = true; };
  plans.manual = { sources = [ "/var/lib/app" ]; repositories = [ "nas" ]; };
}`;

const UNITS = (settings: string) => `(import ./nix/lib.nix { }).planUnits {
  settings = ${settings};
  snapback = "/run/current-system/sw/bin/snapback";
  configFile = "/etc/snapback/snapback.toml";
  systemdInhibit = "/usr/bin/systemd-inhibit";
}`;

describe("Nix module and flake", () => {
  test("every .nix file parses", async () => {
    await using nix = await nixEnv();
    const files = [
      "flake.nix",
      ...(await readdir(join(REPO, "nix"), { recursive: true }))
        .filter((f) => f.endsWith(".nix"))
        .map((f) => `nix/${f}`),
    ];
    expect(files).toEqual(
      expect.arrayContaining([
        "flake.nix",
        "nix/module.nix",
        "nix/package.nix",
        "nix/lib.nix",
        "nix/tests/snapback.nix",
      ]),
    );
    for (const f of files) {
      const r = await run("nix-instantiate", ["--store", "dummy://", "--parse", f], {
        env: nix.env,
        cwd: REPO,
        reject: false,
      });
      expect({ f, err: r.stderr }).toEqual({ f, err: "" });
    }
  });

  test("settings evaluated by Nix pass snapback's schema check; a bad one fails it naming the key", async () => {
    await using nix = await nixEnv();
    const settings = await nixEval(nix.env, SETTINGS);
    const dir = await mkdtemp(join(tmpdir(), "snapback-test-nix-toml-"));
    try {
      const file = join(dir, "snapback.toml");
      // pkgs.formats.toml writes TOML from the same JSON-shaped value; the store makes it 0444.
      await writeFile(file, stringify(settings), { mode: 0o444 });
      const ok = await snapback(["--config", file, "config", "validate", "--schema-only"]);
      expect(ok.stderr).toBe("");
      expect(ok.exitCode).toBe(0);

      const bad = await nixEval(nix.env, `${SETTINGS} // { plans.home.sources = [ "home" ]; }`);
      await writeFile(file, stringify(bad), { mode: 0o444 });
      const refused = await snapback(["--config", file, "config", "validate", "--schema-only"]);
      expect(refused.exitCode).toBe(2);
      expect(refused.stderr).toContain("plans.home.sources");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("per-plan units from Nix equal the ones schedule install writes", async () => {
    await using nix = await nixEnv();
    const units = (await nixEval(nix.env, UNITS(SETTINGS))) as Record<
      string,
      { service: { serviceConfig: Record<string, string> }; timer: { timerConfig: unknown } }
    >;
    // Only scheduled plans get a timer.
    expect(Object.keys(units).sort()).toEqual(["home", "laptop"]);
    for (const [plan, inhibitSleep] of [
      ["home", false],
      ["laptop", true],
    ] as const) {
      const ts = unitSettings(
        backupService({
          snapback: ["/run/current-system/sw/bin/snapback"],
          globalArgs: ["--config", "/etc/snapback/snapback.toml"],
          plan,
          inhibitSleep,
        }),
      );
      expect(units[plan]?.service.serviceConfig).toEqual(Object.fromEntries(ts));
    }
    expect(units["home"]?.timer.timerConfig).toEqual({
      OnCalendar: "Mon..Fri 02:30",
      Persistent: true,
      RandomizedDelaySec: "5min",
    });
    // The daemon's scheduler replaces the timers.
    const daemon = await nixEval(nix.env, UNITS(`${SETTINGS} // { server.scheduler = true; }`));
    expect(daemon).toEqual({});
  });

  test("secrets inline in settings are refused: they would land in the Nix store", async () => {
    await using nix = await nixEnv();
    const problems = await nixEval(
      nix.env,
      `(import ./nix/lib.nix { }).secretProblems {
        repositories.a = { url = "rest:https://backup:S3cret@nas:8000/"; password_file = "/k"; };
        repositories.b = { url = "/srv/r"; env = { AWS_SECRET_ACCESS_KEY = "x"; }; };
        repositories.c = { url = "sftp:backup@nas:/srv"; password_file = "/k"; };
      }`,
    );
    expect(problems).toEqual([
      expect.stringMatching(
        /^services\.snapback\.settings\.repositories\.a\.url: holds credentials/,
      ),
      expect.stringMatching(/^services\.snapback\.settings\.repositories\.b\.env: /),
    ]);
    expect(JSON.stringify(problems)).not.toContain("S3cret");
  });

  test("nix/hardening.json is the hardening the TypeScript units use", async () => {
    const json = JSON.parse(await readFile(join(REPO, "nix/hardening.json"), "utf8")) as unknown;
    expect(json).toEqual(HARDENING);
  });
});
