import { chmod, mkdir, mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SnapbackError, UsageError } from "../errors.js";
import { run } from "../exec/index.js";
import { DeferStack } from "../core/defer.js";
import { writeSampleData } from "./sample.js";

export interface DemoIO {
  say(line: string): void;
  /** Runs a snapback CLI command in-process and returns its exit code. */
  snapback(args: string[]): Promise<number>;
}

/**
 * The demonstration: a loopback btrfs image with sample data and a nested subvolume, a
 * local restic repository, three backups (the second shows nothing changed, the third one
 * changed file), a restore that shows the difference — then every trace removed.
 */
export async function runDemo(io: DemoIO): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new UsageError("demo needs root (it creates a loop device and btrfs snapshots)");
  const problems: string[] = [];
  await using stack = new DeferStack((what, e) => problems.push(`${what}: ${String(e)}`));

  const dir = await mkdtemp(join(tmpdir(), "snapback-demo-"));
  stack.defer("removing the demo directory", () => rm(dir, { recursive: true, force: true }));
  const image = join(dir, "btrfs.img");
  await writeFile(image, "");
  await truncate(image, 512 * 1024 * 1024);
  const device = (await run("losetup", ["--find", "--show", image])).stdout.trim();
  stack.defer(`detaching ${device}`, async () => void (await run("losetup", ["-d", device])));
  await run("mkfs.btrfs", ["-q", "-L", "snapback-demo", device]);
  const mnt = join(dir, "mnt");
  await mkdir(mnt);
  await run("mount", [device, mnt]);
  stack.defer(`unmounting ${mnt}`, async () => void (await run("umount", [mnt])));
  io.say(`• btrfs filesystem on ${device}, mounted at ${mnt}`);

  const home = join(mnt, "home");
  await run("btrfs", ["subvolume", "create", home]);
  const files = await writeSampleData(home);
  const projects = join(home, "projects");
  await run("btrfs", ["subvolume", "create", projects]);
  await writeFile(
    join(projects, "README.md"),
    "a nested subvolume: btrfs snapshots skip it, snapback does not\n",
  );
  io.say(`• subvolume ${home} with ${files} files, and a nested subvolume ${projects}`);

  const repo = join(dir, "repo");
  const passwordFile = join(dir, "password");
  await writeFile(passwordFile, "demo-password-not-for-real-use\n");
  await chmod(passwordFile, 0o600);
  const config = join(dir, "snapback.toml");
  await writeFile(
    config,
    [
      `state_dir = "${join(dir, "state")}"`,
      "",
      "[repositories.local]",
      'engine = "restic"',
      `url = "${repo}"`,
      `password_file = "${passwordFile}"`,
      "init = true",
      "",
      "[plans.home]",
      `sources = ["${home}"]`,
      'repositories = ["local"]',
      'tags = ["demo"]',
      "",
    ].join("\n"),
  );
  await chmod(config, 0o600);
  io.say(`• restic repository ${repo}; config ${config}\n`);

  const backup = async (title: string): Promise<void> => {
    io.say(`$ snapback backup home    # ${title}`);
    const code = await io.snapback(["--config", config, "backup", "home"]);
    if (code !== 0) throw new SnapbackError(`demo: backup exited with ${code}`);
    io.say("");
  };
  await backup("first backup: everything is new");
  await backup("second backup, nothing changed: every file unmodified, no data added");
  await writeFile(
    join(home, "documents", "todo.txt"),
    "1. back up before it's too late\n2. done: snapback runs nightly\n",
  );
  await backup("after editing documents/todo.txt: one file changed");

  io.say("$ snapback snapshots home");
  await io.snapback(["--config", config, "snapshots", "home"]);
  io.say("");

  const first = join(dir, "restore-first");
  const latest = join(dir, "restore-latest");
  const todo = join(home, "documents", "todo.txt");
  const ids = JSON.parse(
    (
      await run("restic", ["-r", repo, "--no-cache", "snapshots", "--json"], {
        env: { RESTIC_PASSWORD_FILE: passwordFile },
      })
    ).stdout,
  ) as { id: string }[];
  const firstId = ids[0]?.id ?? "latest";
  io.say(`$ snapback restore home --snapshot ${firstId.slice(0, 8)} --target ${first}`);
  await io.snapback([
    "--config",
    config,
    "restore",
    "home",
    "--snapshot",
    firstId,
    "--target",
    first,
  ]);
  io.say(`$ snapback restore home --target ${latest}`);
  await io.snapback(["--config", config, "restore", "home", "--target", latest]);
  const diff = await run("diff", ["-u", join(first, todo), join(latest, todo)], { reject: false });
  io.say(`\n$ diff first latest (documents/todo.txt)\n${diff.stdout.trim()}`);
  const nested = await readFile(join(latest, projects, "README.md"), "utf8").catch(
    () => "(missing!)",
  );
  io.say(`\nthe nested subvolume is in the backup too: ${nested.trim()}`);
  io.say("\n• removing every trace: restored files, repository, mount, loop device");
  await stack[Symbol.asyncDispose]();
  if (problems.length > 0) throw new SnapbackError(`demo cleanup failed: ${problems.join("; ")}`);
  io.say("• done: nothing left behind");
}
