import { mkdtemp, mkdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { readFile } from "node:fs/promises";
import { chromium } from "playwright-core";
import { run } from "../src/exec/index.js";
import { createLoopBtrfs } from "../test/fixtures/btrfs.js";

/**
 * `make bench`, issue 13: what a browser sees of a daemon over a long history — the first paint
 * of the dashboard and the history in Debian's Chromium, one level of a 10,000-entry directory
 * through the API (a restic backup: `restic ls`), and the bytes of JS and CSS shipped.
 */
export interface WebUiBenchResult {
  dashboardMs: number[];
  historyMs: number[];
  treeResticMs: number[];
  jsBytes: number;
  jsGzipBytes: number;
  cssBytes: number;
  cssGzipBytes: number;
}

const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Dashboard and history first paint, each over `rounds` fresh page loads of a logged-in user. */
export async function benchPages(url: string, user: string, password: string, rounds = 5) {
  const profile = await mkdtemp(join(tmpdir(), "snapback-bench-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: FLAGS,
  });
  try {
    const page = await context.newPage();
    await page.goto(url);
    await page.getByLabel("User").fill(user);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("heading", { name: "Plans" }).waitFor();
    const time = async (hash: string, ready: string): Promise<number> => {
      await page.goto("about:blank");
      const t = performance.now();
      await page.goto(`${url}${hash}`);
      await page.locator(ready).first().waitFor();
      return performance.now() - t;
    };
    const dashboardMs: number[] = [];
    const historyMs: number[] = [];
    for (let i = 0; i < rounds; i++) {
      dashboardMs.push(await time("", "li.plan .strip"));
      historyMs.push(await time("#/history", "table.runs tbody tr"));
    }
    return { dashboardMs, historyMs };
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
}

/**
 * One `GET …/tree` level of a 10,000-entry directory, `rounds` times: from the restic backup
 * (`restic ls`) and from the run's restore point kept on the btrfs source (read from disk).
 */
export async function benchTree(options: {
  cli: string;
  entries: number;
  rounds: number;
  say: (line: string) => void;
}): Promise<{ resticMs: number[]; localMs: number[] }> {
  await using fs = await createLoopBtrfs(512, "snapback-bench-tree");
  const dir = await mkdtemp(join(tmpdir(), "snapback-bench-tree-"));
  const abort = new AbortController();
  let exited: Promise<unknown> = Promise.resolve();
  try {
    const data = await fs.subvolume("data");
    const src = join(data, "big");
    await mkdir(src, { recursive: true });
    for (let i = 0; i < options.entries; i++) await writeFile(join(src, `f${i}`), "");
    const config = join(dir, "snapback.toml");
    await writeFile(join(dir, "pw"), "bench\n", { mode: 0o600 });
    await writeFile(
      config,
      [
        `state_dir = "${join(dir, "state")}"`,
        "[repositories.r]",
        'engine = "restic"',
        `url = "${join(dir, "repo")}"`,
        `password_file = "${join(dir, "pw")}"`,
        "init = true",
        "[plans.p]",
        `sources = ["${data}"]`,
        'repositories = ["r"]',
        "[plans.p.retention]",
        "keep_last = 1",
        "local_snapshots = 1",
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    const cli = (args: string[]) =>
      run(process.execPath, [options.cli, "--config", config, ...args]);
    options.say(`webui: backing up ${options.entries} files for the tree measure`);
    await cli(["backup", "p"]);
    const token = (await cli(["token", "create", "bench"])).stdout.trim();
    let ready!: (url: string) => void;
    const listening = new Promise<string>((resolve) => (ready = resolve));
    exited = run(
      process.execPath,
      [options.cli, "--config", config, "serve", "--listen", "127.0.0.1:0"],
      {
        reject: false,
        signal: abort.signal,
        onStderrLine: (l) => {
          const m = /listening on (\S+)/.exec(l);
          if (m?.[1]) ready(m[1]);
        },
      },
    );
    const url = await listening;
    const auth = { authorization: `Bearer ${token}` };
    const snaps = (await (
      await fetch(new URL("api/plans/p/snapshots", url), { headers: auth })
    ).json()) as { id: string; kind: string; run_id?: string }[];
    const id = snaps.find((s) => s.kind === "backup")?.id ?? "latest";
    const point = snaps.find((s) => s.kind === "restore_point")?.run_id;
    if (point === undefined) throw new Error("no restore point was kept");
    const time = async (route: string): Promise<number[]> => {
      const ms: number[] = [];
      for (let i = 0; i < options.rounds; i++) {
        const t = performance.now();
        const res = await fetch(new URL(`${route}?path=${encodeURIComponent(src)}`, url), {
          headers: auth,
        });
        const entries = (await res.json()) as unknown[];
        ms.push(performance.now() - t);
        if (!res.ok || entries.length !== options.entries)
          throw new Error(`tree ${route}: ${res.status}, ${entries.length} entries`);
      }
      return ms;
    };
    return {
      resticMs: await time(`api/snapshots/r/${id}/tree`),
      localMs: await time(`api/snapshots/local/${point}/tree`),
    };
  } finally {
    abort.abort();
    await exited;
    await rm(dir, { recursive: true, force: true });
  }
}

export async function bundleSizes(distWeb: string) {
  const js = await readFile(join(distWeb, "app.js"));
  const css = await readFile(join(distWeb, "app.css"));
  await stat(join(distWeb, "index.html"));
  return {
    jsBytes: js.length,
    jsGzipBytes: gzipSync(js).length,
    cssBytes: css.length,
    cssGzipBytes: gzipSync(css).length,
  };
}
