import { isAbsolute, resolve } from "node:path";
import { openEngines } from "../../engine/open.js";
import { UsageError } from "../../errors.js";
import { withInterrupts } from "../../run/signals.js";
import { parseCommand } from "../args.js";
import type { Command } from "../command.js";
import { selectPlans } from "./plans.js";
import {
  DATABASE_RESTORE_USAGE,
  databaseRestoreArgs,
  runDatabaseRestore,
} from "../../databases/cli.js";

export const restoreCommand: Command = {
  name: "restore",
  summary: "restore a backup (default latest) or parts of it into DIR",
  usage:
    "snapback restore PLAN --target DIR [--snapshot ID|latest] [--path P]... [--overwrite] [--repository NAME] [--writable]\n" +
    "  (a btrfs replication target receives read-only snapshots into DIR, --writable adds writable copies;\n" +
    "   a zfs one receives into the dataset --target names, and --path selects source datasets)\n" +
    DATABASE_RESTORE_USAGE,
  async run(argv, io) {
    const { global, values, positionals, help } = parseCommand("restore", argv, {
      target: { type: "string" },
      snapshot: { type: "string" },
      path: { type: "string", multiple: true },
      overwrite: { type: "boolean" },
      repository: { type: "string" },
      writable: { type: "boolean" },
      database: { type: "string" },
      "to-database": { type: "string" },
      "to-file": { type: "string" },
    });
    if (help) {
      io.print(this.usage);
      return 0;
    }
    if (positionals.length !== 1)
      throw new UsageError("restore: name exactly one PLAN", { hint: this.usage });
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
      throw new UsageError("restore: --target DIR is required", { hint: this.usage });
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
    const snapshot = values.snapshot ?? "latest";
    const { interruptedBy } = await withInterrupts((signal) =>
      engine.restore({
        plan,
        snapshot,
        target,
        paths,
        overwrite: values.overwrite === true,
        ...(values.writable ? { writable: true } : {}),
        ...(config.plans[plan]?.extra_args?.restore === undefined
          ? {}
          : { extraArgs: config.plans[plan]?.extra_args?.restore ?? [] }),
        signal,
      }),
    );
    if (interruptedBy) return 130;
    if (global.json) io.printJson({ plan, repository: engine.repoName, snapshot, target, paths });
    else io.print(`restored ${snapshot} of ${plan} from ${engine.repoName} into ${target}`);
    return 0;
  },
};
