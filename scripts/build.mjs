// Bundles the CLI (an entry and its chunks), and the benchmark (`make bench`) beside it. Native addons
// (better-sqlite3) stay external and are resolved from node_modules at run time; so does "x11",
// which the D-Bus library requires only to find a session bus through X11 (never used here).
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { chmod, copyFile, mkdir, rm, writeFile } from "node:fs/promises";

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

// The CLI is split at its dynamic imports: dist/snapback.js is the entry, and what only some
// commands need (the app behind `--version`, the daemon, D-Bus) sits in dist/chunks, loaded
// when a command imports it. Node parses only what it loads: a 2 MB single file cost every
// command ~0.1 s CPU. `make install` copies the chunks beside the entry.
await mkdir("dist", { recursive: true });
await rm("dist/chunks", { recursive: true, force: true });
await build({
  ...options,
  entryPoints: { snapback: "src/cli/main.ts" },
  outdir: "dist",
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
});
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
