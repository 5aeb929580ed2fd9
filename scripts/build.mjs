// Bundles the CLI (an entry, and the app script with its V8 code cache) and the benchmark (`make
// bench`) beside it. Native addons (better-sqlite3) stay external and are resolved from
// node_modules at run time; so does "x11", which the D-Bus library requires only to find a
// session bus through X11 (never used here).
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const options = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  sourcemap: true,
  external: ["better-sqlite3", "x11", "playwright-core"],
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
};

// The CLI is two files: dist/snapback.js, a small ES module entry that answers `--version` by
// itself, and the app (every command) as one CommonJS script, dist/chunks/app.cjs, which the
// entry compiles through vm.Script with V8's code cache (src/cli/load-app.ts): node 20 keeps no
// compiled code for ES modules, and compiling the app was 20–40 ms of every command. What only some
// commands need (the daemon, D-Bus) is in the script but not run until a command requires it.
// `make install` copies dist/chunks beside the entry.
await mkdir("dist", { recursive: true });
await rm("dist/chunks", { recursive: true, force: true });
await build({ ...options, entryPoints: ["src/cli/main.ts"], outfile: "dist/snapback.js" });
await build({
  ...options,
  entryPoints: ["src/cli/app.ts"],
  outfile: "dist/chunks/app.cjs",
  format: "cjs",
  banner: {},
  // src/serve/web.ts finds dist/web from where its code runs.
  define: { "import.meta.dirname": "__dirname" },
});
// A script compiled through vm.Script cannot run import() (it has no module loader): every
// dynamic import must be of bundled code, which esbuild turns into a require.
{
  const app = await readFile("dist/chunks/app.cjs", "utf8");
  const at = app.search(/\bimport\(/);
  if (at >= 0)
    throw new Error(
      `dist/chunks/app.cjs still has an import() of something not bundled: …${app.slice(at, at + 80)}…`,
    );
}
await build({ ...options, entryPoints: ["scripts/bench.ts"], outfile: "dist/bench.js" });
await chmod("dist/snapback.js", 0o755);

// The web UI `snapback serve` ships from dist/web: Preact, bundled and minified, no CDN.
await mkdir("dist/web", { recursive: true });
await build({
  entryPoints: ["web/src/main.tsx"],
  outfile: "dist/web/app.js",
  bundle: true,
  minify: true,
  format: "esm",
  target: ["chrome110", "firefox110", "safari16"],
  jsx: "automatic",
  jsxImportSource: "preact",
  sourcemap: false,
  legalComments: "none",
});
await build({
  entryPoints: ["web/src/app.css"],
  outfile: "dist/web/app.css",
  bundle: true,
  minify: true,
});
await copyFile("web/index.html", "dist/web/index.html");

// The man page and shell completions come from the command definitions in the bundle itself,
// so they always describe the CLI that was just built. `make install` copies these paths.
const generated = {
  man: "dist/man/snapback.1",
  bash: "dist/completions/snapback.bash",
  zsh: "dist/completions/_snapback",
  fish: "dist/completions/snapback.fish",
};
await mkdir("dist/man", { recursive: true });
await mkdir("dist/completions", { recursive: true });
for (const [what, path] of Object.entries(generated)) {
  const text = execFileSync(process.execPath, ["dist/snapback.js", "__generate", what], {
    encoding: "utf8",
  });
  await writeFile(path, text, { mode: 0o644 });
}

// V8's code cache for the app, taken after a run of a command that parses a config: what V8
// compiled for the CLI, the config schemas and the parser is then loaded instead of compiled.
// A node binary other than this one rejects it and compiles as usual (src/cli/load-app.ts).
{
  const dir = await mkdtemp(join(tmpdir(), "snapback-build-"));
  try {
    const config = join(dir, "config.toml");
    await writeFile(join(dir, "password"), "never used\n", { mode: 0o600 });
    await writeFile(
      config,
      [
        `state_dir = "${join(dir, "state")}"`,
        "[repositories.r]",
        'engine = "restic"',
        `url = "${join(dir, "repo")}"`,
        `password_file = "${join(dir, "password")}"`,
        "[plans.p]",
        `sources = ["${dir}"]`,
        'repositories = ["r"]',
        'snapshot = "none"',
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    execFileSync(process.execPath, ["dist/snapback.js", "--config", config, "config", "validate"], {
      // Without the builder's NODE_OPTIONS: V8 flags from there would make every later run
      // reject the cache.
      env: {
        ...process.env,
        NODE_OPTIONS: "",
        SNAPBACK_BUILD_CODE_CACHE: "dist/chunks/app.cjs.cache",
      },
      stdio: ["ignore", "ignore", "inherit"],
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
