import { listSnapshotFiles } from "../../engine/restic/inspect.js";
import { UsageError } from "../../errors.js";
import { defineCommand } from "../command.js";
import { clearStaleLocks, planRepositories } from "./repository.js";

export const lsCommand = defineCommand({
  name: "ls",
  summary: "list the files in a backup of a plan",
  positionals: [
    { name: "PLAN", description: "the plan whose backup to list", complete: "plan" },
    {
      name: "ID",
      optional: true,
      description: "the backup: an id, a unique prefix, or latest (default)",
    },
    {
      name: "PATH",
      optional: true,
      description: "only this original absolute path and what is below it",
      complete: "file",
    },
  ],
  options: {
    repository: {
      type: "string",
      value: "NAME",
      description: "which of the plan's repositories (default: its first)",
      complete: "repository",
    },
  },
  examples: [
    { command: "snapback ls home", description: "every file of the newest backup of home" },
    {
      command: "snapback ls home 1a2b3c4d /home/alice/doc",
      description: "what backup 1a2b3c4d holds below /home/alice/doc",
    },
  ],
  async run({ global, values, positionals }, io) {
    const [plan, ...rest] = positionals;
    if (plan === undefined || rest.length > 2)
      throw new UsageError("ls: expected PLAN [ID] [PATH]", { hint: "see: snapback ls --help" });
    // A path is absolute, an id never is: `ls home /srv` lists /srv in the newest backup.
    const [ref, path] = rest[0]?.startsWith("/")
      ? ["latest", rest[0]]
      : [rest[0] ?? "latest", rest[1]];
    if (path !== undefined && !path.startsWith("/"))
      throw new UsageError(`ls: PATH "${path}" must be an absolute (original) path`);
    if (rest.length === 2 && rest[0]?.startsWith("/"))
      throw new UsageError("ls: expected PLAN [ID] [PATH] (the id comes before the path)");
    const { config } = await io.load(global);
    const [opened] = await planRepositories(config, "ls", plan, values.repository, "first");
    if (!opened) throw new UsageError(`ls: plan "${plan}" has no repository`);
    await clearStaleLocks(opened, false);
    const { snapshot, entries } = await listSnapshotFiles(
      opened.target,
      plan,
      ref,
      path,
      opened.options,
    );
    if (global.json) {
      io.printJson({
        plan,
        repository: opened.target.repoName,
        snapshot: {
          id: snapshot.id,
          short_id: snapshot.shortId,
          time: snapshot.time,
          paths: snapshot.paths,
        },
        entries,
      });
      return 0;
    }
    for (const e of entries) {
      const size = e.type === "file" ? String(e.size ?? 0) : "";
      io.print(
        `${(e.permissions ?? "").padEnd(10)} ${size.padStart(12)} ${(e.mtime ?? "").replace(/\.\d+Z$/, "Z").padEnd(20)} ${e.path}`,
      );
    }
    if (entries.length === 0)
      io.print(
        path === undefined
          ? `backup ${snapshot.shortId} is empty`
          : `${path} is not in backup ${snapshot.shortId} (it holds ${snapshot.paths.join(", ")})`,
      );
    return entries.length === 0 && path !== undefined ? 1 : 0;
  },
});
