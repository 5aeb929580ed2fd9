// Bundles the CLI into one file. Native addons (better-sqlite3) stay external and are
// resolved from node_modules at run time.
import { build } from "esbuild";
import { chmod, cp, mkdir } from "node:fs/promises";

await mkdir("dist", { recursive: true });
await build({
  entryPoints: ["src/cli/main.ts"],
  outfile: "dist/snapback.js",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  sourcemap: true,
  external: ["better-sqlite3"],
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
});
await chmod("dist/snapback.js", 0o755);
