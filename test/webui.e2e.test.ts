import { copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Page } from "playwright-core";
import { describe, expect, test } from "vitest";
import { run } from "../src/exec/index.js";
import { launchBrowser } from "./fixtures/browser.js";
import { createWorld, leftovers, type World } from "./fixtures/cli.js";
import { startGatedProxy } from "./fixtures/gated-proxy.js";
import { startProxy } from "./fixtures/proxy.js";
import { startRestServer } from "./fixtures/rest-server.js";
import { heldConfig, holdBackups } from "./fixtures/held-backup.js";
import { startDaemon } from "./fixtures/serve.js";

/**
 * The web UI in Debian's Chromium against a real daemon, real btrfs and restic. Screenshots of
 * every page go to test-output/screenshots (and to docs/screenshots with
 * SNAPBACK_UPDATE_SCREENSHOTS=1).
 */
const REPO = resolve(import.meta.dirname, "..");
const SHOTS = join(REPO, "test-output/screenshots");

async function shot(page: Page, name: string): Promise<void> {
  await mkdir(SHOTS, { recursive: true });
  const file = join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (process.env["SNAPBACK_UPDATE_SCREENSHOTS"] === "1") {
    await mkdir(join(REPO, "docs/screenshots"), { recursive: true });
    await copyFile(file, join(REPO, "docs/screenshots", `${name}.png`));
  }
}

async function addUser(w: World, name: string, role: "admin" | "viewer"): Promise<string> {
  const password = `pw-${name}-0123456789`;
  const r = await w.cli(["user", "add", name, "--role", role], { input: `${password}\n` });
  if (r.exitCode !== 0) throw new Error(`user add ${name}: ${r.stderr}`);
  return password;
}

async function login(page: Page, url: string, user: string, password: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel("User").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { name: "Plans" }).waitFor();
}

/** The page reaches a state: listings spawn restic, so allow for a loaded machine. */
function eventually<T>(read: () => Promise<T>) {
  return expect.poll(read, { timeout: 60_000 });
}

describe("web UI", () => {
  test("first run: the login page says which command creates a user", async () => {
    await using w = await createWorld();
    await w.writeConfig(w.basicConfig([w.data]));
    await using d = await startDaemon(w, { token: "" });
    await using b = await launchBrowser();
    const page = await b.context.newPage();
    await page.goto(d.url);
    await eventually(() => page.locator(".banner").textContent()).toContain("snapback user add");
    await shot(page, "login-first-run");
  });

  test("log in, dashboard, back up now with live progress, history, run timeline", async () => {
    await using w = await createWorld();
    await using gate = await holdBackups(w.repo.url);
    await writeFile(join(w.data, "hello.txt"), "hello\n");
    await w.writeConfig(
      heldConfig(w, gate, [w.data], 'schedule = "daily"\n[plans.p.retention]\nkeep_last = 1'),
    );
    const password = await addUser(w, "alice", "admin");
    await using d = await startDaemon(w);
    await using b = await launchBrowser();
    const page = await b.context.newPage();
    await login(page, d.url, "alice", password);
    await eventually(() => page.locator("li.plan[data-plan=p] h2").textContent()).toBe("p");
    await shot(page, "dashboard");

    await page.getByRole("link", { name: "p", exact: true }).click();
    await page.getByRole("button", { name: "Back up now" }).click();
    // The gate holds restic's first pack upload, its lock taken: the page shows the run live.
    const progress = page.locator(".repo-progress[data-repository=r]");
    await progress.waitFor();
    await eventually(() => page.locator(".phase").textContent()).toBe("engine");
    await shot(page, "plan-progress");
    gate.open();
    await eventually(() => page.locator("h1 + .badge").textContent()).toBe("success");

    // Check, and the prune dry run with the rule that keeps each backup, from the plan page.
    await page.getByRole("button", { name: "Check" }).click();
    const check = page.locator("section", { has: page.getByRole("heading", { name: "Check" }) });
    await eventually(() => check.locator("p").first().textContent()).toBe("repository healthy");
    await page.getByRole("button", { name: "Prune (dry run)" }).click();
    await eventually(() => page.locator("td.ok").first().textContent()).toMatch(/^keep: .*last/);
    await shot(page, "plan-check-prune");

    await page.getByRole("link", { name: "History" }).first().click();
    const row = page.locator("table.runs tbody tr").first();
    await eventually(() => row.locator(".badge").textContent()).toBe("success");
    await shot(page, "history");
    await row.locator("a").click();
    await eventually(() => page.locator("tr.summary td").nth(1).textContent()).toBe("1");
    await eventually(() => page.locator(".timeline").textContent()).toContain("finished: success");
    await shot(page, "run");
  });

  test("cancel a backup held in the middle of its upload: interrupted, nothing left", async () => {
    await using rest = await startRestServer();
    // restic's pack uploads (POST /repo/data/…) wait at the proxy: restic is mid-backup.
    await using proxy = await startGatedProxy(
      `http://127.0.0.1:${rest.port}`,
      (req) => req.method === "POST" && /\/data\//.test(req.url ?? ""),
    );
    await using w = await createWorld();
    await writeFile(join(w.data, "hello.txt"), "hello\n");
    await w.writeConfig(
      [
        `state_dir = "${w.stateDir}"`,
        "[repositories.r]",
        'engine = "restic"',
        `url = "rest:${proxy.url}/repo"`,
        `password_file = "${w.repo.passwordFile}"`,
        "init = true",
        "[plans.p]",
        `sources = ["${w.data}"]`,
        'repositories = ["r"]',
        "",
      ].join("\n"),
    );
    const password = await addUser(w, "alice", "admin");
    await using d = await startDaemon(w);
    await using b = await launchBrowser();
    const page = await b.context.newPage();
    await login(page, d.url, "alice", password);
    await page.goto(`${d.url}#/plans/p`);
    await page.getByRole("button", { name: "Back up now" }).click();
    await page.locator(".repo-progress[data-repository=r]").waitFor();
    await proxy.held();
    await page.getByRole("button", { name: "Cancel" }).click();
    await eventually(() => page.locator("h1 + .badge").textContent()).toBe("interrupted");
    proxy.open();
    const repo = join(rest.dir, "repo");
    expect(await readdir(join(repo, "snapshots"))).toEqual([]);
    expect(await readdir(join(repo, "locks"))).toEqual([]);
    expect(await leftovers(w)).toEqual([]);
  });

  test("browse, multi-select restore, download a directory, diff of two snapshots", async () => {
    await using w = await createWorld();
    await mkdir(join(w.data, "docs"));
    await writeFile(join(w.data, "docs/a.txt"), "alpha\n");
    await writeFile(join(w.data, "docs/b.txt"), "bravo\n");
    await writeFile(join(w.data, "changing.txt"), "first\n");
    await w.writeConfig(w.basicConfig([w.data]));
    expect((await w.cli(["backup", "p"])).exitCode).toBe(0);
    await writeFile(join(w.data, "changing.txt"), "second version\n");
    expect((await w.cli(["backup", "p"])).exitCode).toBe(0);
    const password = await addUser(w, "alice", "admin");
    await using d = await startDaemon(w);
    await using b = await launchBrowser();
    const page = await b.context.newPage();
    await login(page, d.url, "alice", password);
    await page.goto(`${d.url}#/snapshots/p`);
    const rows = page.locator("table.snapshots tbody tr[data-kind=backup]");
    await eventually(() => rows.count()).toBe(2);

    // Newest first: open it and browse down to docs/.
    await rows.first().locator("a").first().click();
    const tree = page.locator("table.tree");
    await tree.locator("button", { hasText: "docs/" }).click();
    await tree.locator(`tr[data-path="${w.data}/docs/a.txt"]`).waitFor();
    await page.getByLabel("select a.txt").check();
    await page.getByLabel("select b.txt").check();
    await shot(page, "snapshot-browser");

    const target = join(w.dir, "restored");
    await page.getByLabel("target directory").fill(target);
    await page.getByRole("button", { name: "Preview (dry run)" }).click();
    await eventually(() => page.locator(".preview").textContent()).toContain("a.txt");
    await page.getByRole("button", { name: "Restore", exact: true }).click();
    await eventually(() => page.locator("form.restore .ok").textContent()).toContain(target);
    expect(await readFile(join(target, w.data, "docs/a.txt"), "utf8")).toBe("alpha\n");
    expect(await readFile(join(target, w.data, "docs/b.txt"), "utf8")).toBe("bravo\n");

    // The directory as a tar, through the browser's own download.
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: "download this directory (tar)" }).click(),
    ]);
    const tarFile = join(w.dir, "docs.tar");
    await download.saveAs(tarFile);
    const listing = (await run("tar", ["-tf", tarFile])).stdout;
    expect(listing).toMatch(/docs\/a\.txt$/m);
    expect(listing).toMatch(/docs\/b\.txt$/m);

    // Diff against the older backup names the changed file.
    await rows.nth(1).getByRole("link", { name: "diff" }).click();
    await expect
      .poll(() => page.locator(".diff .d-changed").textContent())
      .toContain("changing.txt");
    await shot(page, "snapshot-diff");
  });

  test("a CLI backup beside the browser shows up live", async () => {
    await using w = await createWorld();
    await using gate = await holdBackups(w.repo.url);
    await writeFile(join(w.data, "hello.txt"), "hello\n");
    await w.writeConfig(heldConfig(w, gate, [w.data]));
    const password = await addUser(w, "alice", "admin");
    await using d = await startDaemon(w);
    await using b = await launchBrowser();
    const page = await b.context.newPage();
    await login(page, d.url, "alice", password);
    await page.goto(`${d.url}#/plans/p`);
    await page.getByRole("button", { name: "Back up now" }).waitFor();
    const cli = w.cli(["backup", "p"]);
    try {
      // Held in the engine: the page can only know through the daemon's live view.
      await page.locator(".repo-progress[data-repository=r]").waitFor({ timeout: 60_000 });
    } finally {
      gate.open();
    }
    expect((await cli).exitCode).toBe(0);
    await eventually(() => page.locator("h1 + .badge").textContent()).toBe("success");
  });

  test("a viewer sees no state-changing button, and a forged request gets 403", async () => {
    await using w = await createWorld();
    await w.writeConfig(w.basicConfig([w.data]));
    const password = await addUser(w, "bob", "viewer");
    await using d = await startDaemon(w);
    await using b = await launchBrowser({ colorScheme: "dark", width: 390 });
    const page = await b.context.newPage();
    await login(page, d.url, "bob", password);
    await page.goto(`${d.url}#/plans/p`);
    await page.getByRole("heading", { name: "Schedule" }).waitFor();
    for (const name of ["Back up now", "Dry run", "Cancel", "Check", "Prune (dry run)"])
      expect(await page.getByRole("button", { name }).count(), name).toBe(0);
    await shot(page, "plan-viewer-phone-dark");
    const status = await page.evaluate(async () => {
      const r = await fetch("api/plans/p/backup", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      return r.status;
    });
    expect(status).toBe(403);
  });

  test('the whole UI under base_path = "/backup/" behind a reverse proxy', async () => {
    await using w = await createWorld();
    await writeFile(join(w.data, "hello.txt"), "hello\n");
    await w.writeConfig(w.basicConfig([w.data]) + '\n[server]\nbase_path = "/backup/"\n');
    const password = await addUser(w, "alice", "admin");
    await using d = await startDaemon(w);
    await using proxy = await startProxy(d.url.replace(/\/backup\/?$/, "/"), "/backup/");
    await using b = await launchBrowser();
    const page = await b.context.newPage();
    await login(page, proxy.url, "alice", password);
    await page.goto(`${proxy.url}#/plans/p`);
    await page.getByRole("button", { name: "Back up now" }).click();
    await eventually(() => page.locator("h1 + .badge").textContent()).toBe("success");
    await page.goto(`${proxy.url}#/snapshots/p`);
    await eventually(() => page.locator("table.snapshots tbody tr").count()).toBe(1);
  });
});
