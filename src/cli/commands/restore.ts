import { isAbsolute, resolve } from "node:path";
import { openEngines } from "../../engine/open.js";
import { UsageError } from "../../errors.js";
import { withInterrupts } from "../../core/signals.js";
import { databaseFromTags, listPlanDumps } from "../../databases/index.js";
import type { RepositoryEngine } from "../../engine/types.js";
import { defineCommand } from "../command.js";
import { selectPlans } from "./plans.js";
import {
  DATABASE_RESTORE_USAGE,
  databaseRestoreArgs,
  runDatabaseRestore,
} from "../../databases/cli.js";

/**
 * A file restore of a snapshot id that is not one of the plan's file backups: if it is one of
 * the plan's database dumps, say how that is restored. Looked up only after the restore
 * failed, so a normal restore costs no extra listing.
 */
async function dumpInsteadOfFiles(
  engine: RepositoryEngine,
  plan: string,
  snapshot: string,
  error: unknown,
): Promise<UsageError | undefined> {
  if (!(error instanceof UsageError) || snapshot === "latest" || engine.engine !== "restic")
    return undefined;
  const dumps = await listPlanDumps(engine, plan).catch(() => []);
  const dump = dumps.find((d) => d.id.startsWith(snapshot));
  const name = dump && databaseFromTags(dump.tags);
  if (!dump || name === undefined) return undefined;
  return new UsageError(
    `restore: ${dump.shortId} is a dump of database "${name}" of plan "${plan}", not a backup of files: restore it with --database ${name}`,
    {
      hint: `snapback restore ${plan} --database ${name} --snapshot ${dump.shortId} (--to-database DB | --to-file PATH)`,
    },
  );
}

export const restoreCommand = defineCommand({
  name: "restore",
  summary: "restore a backup (default latest) or parts of it into DIR",
  synopsis: [
    "restore PLAN --target DIR [--snapshot ID|latest] [--path P]... [--overwrite] [--repository NAME] [--writable]",
    ...DATABASE_RESTORE_USAGE.split("\n")
      .map((l) => l.trim().replace(/^snapback /, ""))
      .filter((l) => l.startsWith("restore ")),
  ],
  description: [
    "Files land at DIR/<original path>. An existing file is never replaced unless --overwrite is given. A btrfs replication target receives read-only snapshots into DIR (--writable adds writable copies); a zfs one receives into the dataset --target names, and --path selects source datasets.",
  ],
  positionals: [
    { name: "PLAN", description: "the plan whose backup to restore", complete: "plan" },
  ],
  options: {
    target: {
      type: "string",
      value: "DIR",
      description: "where to restore (files land at DIR/<original path>)",
      complete: "dir",
    },
    snapshot: {
      type: "string",
      value: "ID",
      description: "the backup to restore: an id, a unique prefix, or latest (default)",
    },
    path: {
      type: "string",
      multiple: true,
      value: "P",
      description: "restore only this original absolute path (repeatable)",
    },
    overwrite: { type: "boolean", description: "replace existing files in DIR" },
    "if-newer": {
      type: "boolean",
      description:
        "with --overwrite: replace an existing file only when the backup's copy is newer (mtime); restic repositories",
    },
    repository: {
      type: "string",
      value: "NAME",
      description: "restore from this repository (default: the plan's first)",
      complete: "repository",
    },
    writable: {
      type: "boolean",
      description: "btrfs replication targets: also make writable copies",
    },
    database: {
      type: "string",
      value: "NAME",
      description: "restore the dump of this database of the plan instead of files",
    },
    "to-database": {
      type: "string",
      value: "NAME",
      description: "load the dump into this existing, empty database on the entry's server",
    },
    "to-file": {
      type: "string",
      value: "FILE",
      description: "write the dump (or a SQLite database) to FILE; - is stdout",
      complete: "file",
    },
  },
  examples: [
    {
      command: "snapback restore home --target /tmp/r",
      description: "the newest backup of home into /tmp/r",
    },
    {
      command: "snapback restore home --target / --path /home/alice/doc.txt --overwrite",
      description: "put one file back where it was",
    },
    {
      command: "snapback restore app --database appdb --to-file /tmp/appdb.sql",
      description: "write the newest dump of appdb to a file",
    },
  ],
  async run({ global, values, positionals }, io) {
    if (positionals.length !== 1)
      throw new UsageError("restore: name exactly one PLAN", {
        hint: "see: snapback restore --help",
      });
    const dbArgs = databaseRestoreArgs({
      database: values.database,
      toDatabase: values["to-database"],
      toFile: values["to-file"],
      target: values.target,
      paths: values.path ?? [],
      writable: values.writable === true,
      overwrite: values.overwrite === true,
      json: global.json,
      stdoutIsTTY: io.stdoutIsTTY,
    });
    if (!values.target && !dbArgs)
      throw new UsageError("restore: --target DIR is required", {
        hint: "see: snapback restore --help",
      });
    const paths = values.path ?? [];
    const { config } = await io.load(global);
    const [plan] = selectPlans(config, positionals);
    if (!plan) throw new UsageError("restore: name exactly one PLAN");
    const engines = await openEngines(config, plan, { resolveSecrets: true });
    const engine = values.repository
      ? engines.find((e) => e.repoName === values.repository)
      : engines[0];
    if (!engine) {
      throw new UsageError(
        `restore: plan "${plan}" has no repository "${values.repository ?? ""}" (it uses: ${engines.map((e) => e.repoName).join(", ")})`,
      );
    }
    if (dbArgs) {
      return runDatabaseRestore(dbArgs, values.snapshot ?? "latest", {
        planName: plan,
        plan: config.plans[plan] ?? {},
        engine,
        stateDir: config.state_dir,
        json: global.json,
        print: (l) => io.print(l),
        printJson: (v) => io.printJson(v),
      });
    }
    const targetDir = values.target ?? "";
    // A zfs replication target restores into a dataset, and its sources are datasets too.
    const zfs = engine.engine === "zfs";
    for (const p of paths)
      if (!zfs && !isAbsolute(p))
        throw new UsageError(`restore: --path ${p} must be an absolute (original) path`);
    if (values.writable && engine.engine !== "btrfs")
      throw new UsageError(`restore: --writable applies to btrfs replication targets only`);
    const target = zfs ? targetDir : resolve(targetDir);
    if (values["if-newer"] && !values.overwrite)
      throw new UsageError(
        "restore: --if-newer goes with --overwrite (it says which files to replace)",
      );
    const snapshot = values.snapshot ?? "latest";
    const { interruptedBy } = await withInterrupts((signal) =>
      engine
        .restore({
          plan,
          snapshot,
          target,
          paths,
          overwrite: values.overwrite === true,
          ...(values["if-newer"] ? { ifNewer: true } : {}),
          ...(values.writable ? { writable: true } : {}),
          ...(config.plans[plan]?.extra_args?.restore === undefined
            ? {}
            : { extraArgs: config.plans[plan]?.extra_args?.restore ?? [] }),
          signal,
        })
        .catch(async (e: unknown) => {
          throw (await dumpInsteadOfFiles(engine, plan, snapshot, e)) ?? e;
        }),
    );
    if (interruptedBy) return 130;
    if (global.json) io.printJson({ plan, repository: engine.repoName, snapshot, target, paths });
    else io.print(`restored ${snapshot} of ${plan} from ${engine.repoName} into ${target}`);
    return 0;
  },
});
