import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Script } from "node:vm";
import type { CodeCacheStatus, main } from "./app.js";

/**
 * The built CLI is two files (scripts/build.mjs): this small ES module entry, and the app — every
 * command — as one CommonJS script in `chunks/app.cjs`, with V8's code cache for it beside it
 * (`app.cjs.cache`, written by the build). Node 20 can cache compiled code only for scripts it
 * is handed through `vm.Script`, not for ES modules, and compiling the app cost 20–40 ms of every
 * command (docs/benchmarks.md, "V8 code cache").
 *
 * A cache V8 rejects (another node binary, other V8 flags) is ignored: the app is compiled as
 * usual, just slower. A missing one likewise. The app has no `import()` left (the build
 * refuses one): a script compiled this way could not run it.
 *
 * This runs only as part of the build (`dist/`), never from the TypeScript sources.
 */
export function loadApp(): { main: typeof main; codeCache: CodeCacheStatus } {
  // import.meta.dirname needs node 20.11; package.json allows any 20.
  const file = join(dirname(fileURLToPath(import.meta.url)), "chunks", "app.cjs");
  const source = readFileSync(file, "utf8");
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(`${file}.cache`);
  } catch {
    // Built without one: compiled as usual.
  }
  // CommonJS's own wrapper, on the script's first line so that stack traces keep their lines.
  const script = new Script(
    `(function (exports, require, module, __filename, __dirname) {${source}\n})`,
    { filename: file, ...(cachedData ? { cachedData } : {}) },
  );
  // The build's hook: run a command, then keep what V8 compiled for it (`SNAPBACK_BUILD_CODE_CACHE`
  // names the file). Nothing else writes the cache: an installed tree stays as installed.
  const cacheOut = process.env["SNAPBACK_BUILD_CODE_CACHE"];
  delete process.env["SNAPBACK_BUILD_CODE_CACHE"];
  if (cacheOut)
    process.on("exit", () => {
      writeFileSync(`${cacheOut}.tmp`, script.createCachedData());
      renameSync(`${cacheOut}.tmp`, cacheOut);
    });
  const wrapper = script.runInThisContext() as (
    exports: object,
    require: NodeJS.Require,
    module: { exports: object },
    filename: string,
    dirname: string,
  ) => void;
  const mod = { exports: {} };
  wrapper(mod.exports, createRequire(file), mod, file, dirname(file));
  const codeCache = !cachedData ? "absent" : script.cachedDataRejected ? "rejected" : "accepted";
  return { ...(mod.exports as { main: typeof main }), codeCache };
}
