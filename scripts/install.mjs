// `make install` / `make uninstall`: copies the built CLI (the bundle and its one native addon),
// a launcher, the systemd units, the D-Bus policy and interfaces, completions and the man page
// under $DESTDIR$PREFIX, and records every file and directory it created in a manifest so that
// uninstall removes exactly that and nothing else.
//
//   node scripts/install.mjs install   --prefix /usr/local [--destdir DIR]
//   node scripts/install.mjs uninstall --prefix /usr/local [--destdir DIR]
import { execFileSync } from "node:child_process";
import {
  chmod,
  copyFile,
  mkdir,
  readdir,
  readFile,
  rm,
  rmdir,
  stat,
  writeFile,
} from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    prefix: { type: "string", default: "/usr/local" },
    destdir: { type: "string", default: "" },
  },
});
const action = positionals[0];
const prefix = resolve(values.prefix);
const root = values.destdir ? resolve(values.destdir) : "";
const at = (p) => join(root || "/", prefix, p);
const MANIFEST = "lib/snapback/install-manifest";
const repo = resolve(import.meta.dirname, "..");

async function exists(p) {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/** Every file of a directory tree, relative to it. */
async function walk(dir, rel = "") {
  const out = [];
  for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
    const r = join(rel, e.name);
    if (e.isDirectory()) out.push(...(await walk(dir, r)));
    else out.push(r);
  }
  return out;
}

async function install() {
  const created = [];
  const files = [];
  // Over an earlier install (an upgrade): its files go first, or one this build no longer has
  // (the old bundle's chunks) would stay forever, in no manifest; the directories it created
  // stay recorded as created, so uninstall still removes them.
  const previous = await readFile(at(MANIFEST), "utf8").catch(() => "");
  for (const line of previous.split("\n")) {
    if (line.startsWith("f ")) await rm(line.slice(2), { force: true });
    else if (line.startsWith("d ")) created.push(line.slice(2));
  }
  async function ensureDir(dir) {
    if (await exists(dir)) return;
    await ensureDir(dirname(dir));
    await mkdir(dir);
    created.push(dir);
  }
  async function put(dest, from, mode = 0o644) {
    const target = at(dest);
    await ensureDir(dirname(target));
    if (typeof from === "string") await copyFile(from, target);
    else await writeFile(target, from.text);
    await chmod(target, mode);
    files.push(target);
  }

  const dist = join(repo, "dist");
  if (!(await exists(join(dist, "snapback.js"))))
    throw new Error("dist/snapback.js missing: run make build");
  await put("lib/snapback/snapback.js", join(dist, "snapback.js"));
  // The app the entry loads, and V8's code cache for it (scripts/build.mjs); not the source maps.
  if (await exists(join(dist, "chunks")))
    for (const f of await walk(join(dist, "chunks")))
      if (!f.endsWith(".map")) await put(`lib/snapback/chunks/${f}`, join(dist, "chunks", f));
  // The bundle keeps better-sqlite3 external (a native addon); it and the two packages it loads
  // at run time go beside the bundle, where its require() looks first.
  const nm = join(repo, "node_modules");
  const sqlite = join(nm, "better-sqlite3");
  await put("lib/snapback/node_modules/better-sqlite3/package.json", join(sqlite, "package.json"));
  for (const f of await walk(join(sqlite, "lib")))
    await put(`lib/snapback/node_modules/better-sqlite3/lib/${f}`, join(sqlite, "lib", f));
  await put(
    "lib/snapback/node_modules/better-sqlite3/build/Release/better_sqlite3.node",
    join(sqlite, "build/Release/better_sqlite3.node"),
    0o755,
  );
  for (const pkg of ["bindings", "file-uri-to-path"])
    for (const f of await walk(join(nm, pkg)))
      await put(`lib/snapback/node_modules/${pkg}/${f}`, join(nm, pkg, f));
  if (await exists(join(dist, "web")))
    for (const f of await walk(join(dist, "web")))
      await put(`lib/snapback/web/${f}`, join(dist, "web", f));

  const node = process.execPath;
  await put(
    "bin/snapback",
    {
      text: [
        "#!/bin/sh",
        "# snapback launcher written by `make install`: the bundle runs on the Node.js it was built with.",
        'self=$(readlink -f "$0")',
        'export SNAPBACK_EXECUTABLE="$self"',
        `exec ${node} "$(dirname "$self")/../lib/snapback/snapback.js" "$@"`,
        "",
      ].join("\n"),
    },
    0o755,
  );

  // Units name the installed launcher (without DESTDIR: that is where it will run from).
  const units = JSON.parse(
    execFileSync(
      node,
      [
        join(dist, "snapback.js"),
        "--json",
        "schedule",
        "units",
        "--executable",
        join(prefix, "bin/snapback"),
      ],
      {
        encoding: "utf8",
      },
    ),
  );
  for (const u of units) await put(`lib/systemd/system/${u.name}`, { text: u.text });

  const share = join(repo, "share");
  if (await exists(share))
    for (const f of await walk(share)) await put(`share/${f}`, join(share, f));

  const generated = [
    ["completions/snapback.bash", "share/bash-completion/completions/snapback"],
    ["completions/_snapback", "share/zsh/site-functions/_snapback"],
    ["completions/snapback.fish", "share/fish/vendor_completions.d/snapback.fish"],
    ["man/snapback.1", "share/man/man1/snapback.1"],
  ];
  for (const [from, to] of generated)
    if (await exists(join(dist, from))) await put(to, join(dist, from));

  const manifest = at(MANIFEST);
  files.push(manifest);
  await writeFile(
    manifest,
    [...files.map((f) => `f ${f}`), ...created.map((d) => `d ${d}`)].join("\n") + "\n",
    { mode: 0o644 },
  );
  console.log(`installed ${files.length} files under ${at("")}`);
  for (const f of files.filter((f) => !f.includes("/node_modules/")))
    console.log(`  ${relative(root || "/", f)}`);
}

async function uninstall() {
  const manifest = at(MANIFEST);
  let text;
  try {
    text = await readFile(manifest, "utf8");
  } catch {
    throw new Error(`${manifest} not found: nothing installed under ${at("")}`);
  }
  const lines = text.split("\n").filter(Boolean);
  const files = lines.filter((l) => l.startsWith("f ")).map((l) => l.slice(2));
  // Directories deepest first; only those install created, and only when they are empty now.
  const dirs = lines
    .filter((l) => l.startsWith("d "))
    .map((l) => l.slice(2))
    .sort((a, b) => b.length - a.length);
  for (const f of files) await rm(f, { force: true });
  for (const d of dirs) await rmdir(d).catch(() => undefined);
  console.log(`removed ${files.length} files and ${dirs.length} directories`);
}

try {
  if (action === "install") await install();
  else if (action === "uninstall") await uninstall();
  else throw new Error("usage: install.mjs install|uninstall --prefix P [--destdir D]");
} catch (e) {
  console.error(`install: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
