import { existsSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { serveStatic } from "@hono/node-server/serve-static";
import type { Hono } from "hono";
import type { Env } from "./app.js";

/**
 * Where the bundle's entry lives: this code runs from the app script in `dist/chunks/`
 * (scripts/build.mjs; there import.meta.dirname is the script's __dirname), and `web/` sits
 * beside the entry.
 */
const bundleDir =
  basename(import.meta.dirname) === "chunks" ? dirname(import.meta.dirname) : import.meta.dirname;

/**
 * Issue 13's hook: the web UI is static files in `dist/web/` next to the bundle, served under
 * base_path (the API routes are registered first and win). Without the directory, nothing is
 * mounted and `/` is a plain 404.
 */
export function mountWeb(app: Hono<Env>, basePath: string, dir = resolve(bundleDir, "web")): void {
  if (!existsSync(join(dir, "index.html"))) return;
  // serveStatic resolves `root` against the working directory.
  const root = relative(process.cwd(), dir) || ".";
  app.use("/*", serveStatic({ root, rewriteRequestPath: (p) => `/${p.slice(basePath.length)}` }));
}
