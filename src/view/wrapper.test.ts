import { mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { createLoopBtrfs } from "../../test/fixtures/btrfs.js";
import { run } from "../exec/index.js";
import { viewWrapper } from "./wrapper.js";
import { viewScript, type ViewSpec } from "./script.js";

async function inView(spec: ViewSpec, file: string, args: string[]): Promise<string> {
  const w = viewWrapper(spec)(file, args);
  return (await run(w.file, w.args)).stdout;
}

async function mountsUnder(path: string): Promise<string[]> {
  const out = (await run("findmnt", ["-rn", "-o", "TARGET"])).stdout.split("\n");
  return out.filter((t) => t === path || t.startsWith(`${path}/`));
}

describe("view", () => {
  test("shows the snapshot at the original path, read-only, and leaks no mount", async () => {
    await using fs = await createLoopBtrfs(256);
    const data = await fs.subvolume("data");
    await writeFile(join(data, "file.txt"), "at snapshot time");
    await mkdir(join(fs.mountpoint, ".snap"));
    const snap = join(fs.mountpoint, ".snap", "s1");
    await run("btrfs", ["subvolume", "snapshot", "-r", data, snap]);
    await writeFile(join(data, "file.txt"), "changed later");

    const spec: ViewSpec = { binds: [{ from: snap, to: data }], writable: [] };
    expect(await inView(spec, "cat", [join(data, "file.txt")])).toBe("at snapshot time");
    const write = viewWrapper(spec)("sh", ["-c", `echo x > ${join(data, "new")}`]);
    const r = await run(write.file, write.args, { reject: false });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/Read-only file system/);

    expect(await mountsUnder(data)).toEqual([]);
    expect(await readFile(join(data, "file.txt"), "utf8")).toBe("changed later");
    await run("btrfs", ["subvolume", "delete", snap]);
  });

  test("keeps writable live directories that lie inside a source", async () => {
    await using fs = await createLoopBtrfs(256);
    const data = await fs.subvolume("data");
    const cache = join(data, "state", "cache");
    await mkdir(cache, { recursive: true });
    const snap = join(fs.mountpoint, "s1");
    await run("btrfs", ["subvolume", "snapshot", "-r", data, snap]);

    const spec: ViewSpec = { binds: [{ from: snap, to: data }], writable: [cache] };
    await inView(spec, "sh", ["-c", `echo written-in-view > ${join(cache, "f")}`]);
    expect(await readFile(join(cache, "f"), "utf8")).toBe("written-in-view\n");
    expect(await mountsUnder(data)).toEqual([]);
    await run("btrfs", ["subvolume", "delete", snap]);
  });

  test("a writable directory outside every source gets no mount of its own and stays writable", async () => {
    await using fs = await createLoopBtrfs(256);
    const data = await fs.subvolume("data");
    const cache = join(fs.mountpoint, "cache");
    await mkdir(cache);
    const snap = join(fs.mountpoint, "s1");
    await run("btrfs", ["subvolume", "snapshot", "-r", data, snap]);

    const spec: ViewSpec = { binds: [{ from: snap, to: data }], writable: [cache] };
    expect(viewScript(spec)).not.toContain(cache);
    await inView(spec, "sh", ["-c", `echo written-in-view > ${join(cache, "f")}`]);
    expect(await readFile(join(cache, "f"), "utf8")).toBe("written-in-view\n");
    await run("btrfs", ["subvolume", "delete", snap]);
  });

  test("a source at / becomes the root of the view (chroot)", async () => {
    await using fs = await createLoopBtrfs(256);
    const root = await fs.subvolume("root");
    for (const d of ["usr", "etc", "dev", "proc", "sys", "run", "var/cache"]) {
      await mkdir(join(root, d), { recursive: true });
    }
    for (const l of ["bin", "lib", "lib64", "sbin"]) await symlink(`usr/${l}`, join(root, l));
    await writeFile(join(root, "marker"), "snapshot root");
    const snap = join(fs.mountpoint, "rootsnap");
    await run("btrfs", ["subvolume", "snapshot", "-r", root, snap]);
    const cache = "/var/cache";

    const spec: ViewSpec = {
      binds: [
        { from: snap, to: "/" },
        { from: "/usr", to: "/usr" },
        { from: "/etc", to: "/etc" },
      ],
      writable: [cache],
    };
    const out = await inView(spec, "sh", [
      "-c",
      "cat /marker; test -r /proc/self/status && echo proc-ok; test -w /var/cache && echo cache-ok",
    ]);
    expect(out).toBe("snapshot rootproc-ok\ncache-ok\n");
    expect(await mountsUnder(snap)).toEqual([]);
    await run("btrfs", ["subvolume", "delete", snap]);
    await rm(join(root, "marker"));
  });
});

describe("view with nested snapshots", () => {
  test("a nested snapshot stored inside the parent source is still reachable", async () => {
    await using fs = await createLoopBtrfs(256);
    const data = await fs.subvolume("data");
    const inner = join(data, "inner");
    await run("btrfs", ["subvolume", "create", inner]);
    await writeFile(join(inner, "f"), "inner at snapshot time");
    await mkdir(join(data, ".snapback"));
    const parent = join(data, ".snapback", "p");
    const child = join(data, ".snapback", "c");
    await run("btrfs", ["subvolume", "snapshot", "-r", data, parent]);
    await run("btrfs", ["subvolume", "snapshot", "-r", inner, child]);
    await writeFile(join(inner, "f"), "changed");
    const spec: ViewSpec = {
      binds: [
        { from: parent, to: data },
        { from: child, to: inner },
      ],
      writable: [],
    };
    expect(await inView(spec, "cat", [join(inner, "f")])).toBe("inner at snapshot time");
    await run("btrfs", ["subvolume", "delete", child, parent]);
  });
});
