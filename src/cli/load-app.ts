import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Script } from "node:vm";
import type { CodeCacheStatus, main } from "./app.js";

/**
 * The built CLI is two files (scripts/build.mjs): this small ES module entry, and the app — every
 * command — as one CommonJS script in `chunks/app.cjs`, with V8's code cache for it beside it
 * (`app.cjs.cache`, written by the build). Node 20 can cache compiled code only for scripts it
 * is handed through `vm.Script`, not for ES modules, and compiling the app on every start cost
 * more than running its top level: ≈ 20 ms of every command, measured (docs/benchmarks.md).
 *
 * A cache V8 rejects (another node binary, other V8 flags) is ignored: the app is compiled as
 * usual, just slower. A missing one likewise.
 */
export function loadApp(): { main: typeof main; codeCache: CodeCacheStatus } {
  const file = join(import.meta.dirname, "chunks", "app.cjs");
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
  if (cacheOut) process.on("exit", () => writeFileSync(cacheOut, script.createCachedData()));
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
