import { appendFile, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { run } from "../src/exec/index.js";
import { createWorld } from "./fixtures/cli.js";

const REPO = resolve(import.meta.dirname, "..");

async function tempDir(): Promise<AsyncDisposable & { dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), "snapback-test-install-"));
  return { dir, [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }) };
}

async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }))
    out.push(join(e.parentPath, e.name).slice(dir.length));
  return out.sort();
}

describe("make install / make uninstall", () => {
  test("the installed CLI runs doctor and a backup; uninstall leaves nothing", async () => {
    await using dest = await tempDir();
    await using w = await createWorld();
    const make = (target: string) =>
      run("make", ["-s", "-C", REPO, target, `DESTDIR=${dest.dir}`, "PREFIX=/usr/local"], {
        reject: false,
      });
    // Something the user had there before must survive the uninstall.
    await writeFile(join(dest.dir, "keep-me"), "");

    const installed = await make("install");
    expect(installed.stderr).toBe("");
    expect(installed.exitCode).toBe(0);
    const files = await tree(dest.dir);
    for (const f of [
      "/usr/local/bin/snapback",
      "/usr/local/lib/snapback/snapback.js",
      "/usr/local/lib/snapback/node_modules/better-sqlite3/build/Release/better_sqlite3.node",
      "/usr/local/lib/systemd/system/snapback@.service",
      "/usr/local/lib/systemd/system/snapback-serve.service",
      "/usr/local/lib/snapback/web/index.html",
      "/usr/local/share/dbus-1/system.d/org.snapback.Snapback1.conf",
      "/usr/local/share/dbus-1/interfaces/org.snapback.Snapback1.Manager.xml",
      "/usr/local/share/dbus-1/interfaces/org.snapback.Snapback1.Run.xml",
      "/usr/local/share/bash-completion/completions/snapback",
      "/usr/local/share/zsh/site-functions/_snapback",
      "/usr/local/share/fish/vendor_completions.d/snapback.fish",
      "/usr/local/share/man/man1/snapback.1",
    ])
      expect(files).toContain(f);
    // The entry loads the app and its V8 code cache from chunks/ (scripts/build.mjs): both are
    // installed, and the commands below run from the installed copy.
    const chunks = (await readdir(join(REPO, "dist/chunks"))).filter((f) => !f.endsWith(".map"));
    expect(chunks.sort()).toEqual(["app.cjs", "app.cjs.cache"]);
    for (const c of chunks) expect(files).toContain(`/usr/local/lib/snapback/chunks/${c}`);
    const bin = join(dest.dir, "usr/local/bin/snapback");
    expect((await stat(bin)).mode & 0o111).toBe(0o111);
    const template = await readFile(
      join(dest.dir, "usr/local/lib/systemd/system/snapback@.service"),
      "utf8",
    );
    // Units name where the launcher will live, not the staging directory.
    expect(template).toMatch(/^ExecStart=\/usr\/local\/bin\/snapback backup %i$/m);

    const doctor = await run(bin, ["doctor"], { reject: false });
    expect(doctor.stdout).toMatch(/^ok {3}restic: \d+\.\d+\.\d+ at /m);
    expect(doctor.stdout).toMatch(/^ok {3}root:/m);

    await writeFile(join(w.data, "f.txt"), "installed\n");
    await w.writeConfig(w.basicConfig([w.data]));
    // The installed cache is the build's, and this node accepts it (a rejected or missing one
    // is named at --verbose).
    const validate = await run(bin, ["--verbose", "--config", w.configPath, "config", "validate"], {
      reject: false,
    });
    expect(validate.exitCode).toBe(0);
    expect(validate.stderr).not.toMatch(/code cache/);
    const backup = await run(bin, ["--config", w.configPath, "backup", "p"], { reject: false });
    expect(backup.stderr).not.toMatch(/error/i);
    expect(backup.exitCode).toBe(0);
    expect((await w.repo.snapshots()).map((s) => s.paths)).toEqual([[w.data]]);
    // The history store (the native addon) works from the installed copy.
    const status = await run(bin, ["--config", w.configPath, "--json", "status"], {
      reject: false,
    });
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toContain('"success"');

    // An upgrade from a build whose files this one does not have (the old split bundle's
    // chunks): the reinstall removes them, and uninstall still leaves nothing.
    const manifest = join(dest.dir, "usr/local/lib/snapback/install-manifest");
    const stale = join(dest.dir, "usr/local/lib/snapback/chunks/app-OLDHASH.js");
    await writeFile(stale, "// an older build's chunk\n");
    await appendFile(manifest, `f ${stale}\n`);
    const again = await make("install");
    expect(again.exitCode).toBe(0);
    expect(await tree(dest.dir)).not.toContain("/usr/local/lib/snapback/chunks/app-OLDHASH.js");
    expect(await tree(dest.dir)).toEqual(files);

    const removed = await make("uninstall");
    expect(removed.exitCode).toBe(0);
    expect(await tree(dest.dir)).toEqual(["/keep-me"]);
  });
});
