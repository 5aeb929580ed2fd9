import { isAbsolute } from "node:path";
import * as z from "../util/zod.js";
import { READ_DATA_FORMS, readDataSubsetProblem } from "./read-data.js";
import { databasesSchema } from "./databases.js";
import { dbusSchema } from "./dbus.js";
import { resticPlanArgKeys, resticRepositoryArgKeys } from "./restic.js";
import { hooksSchema } from "./hooks.js";
import { ignorePlanKeys } from "./ignore.js";
import { metricsSchema } from "./metrics.js";
import { globalNotifySchema, planNotifySchema } from "./notify.js";
import { serverSchema } from "./server.js";

/**
 * The configuration schema. It is the single source of the config types: everything else
 * imports `Config`, `Plan`, `Repository` from here.
 */

const absolutePath = z
  .string()
  .min(1, "must not be empty")
  .refine((p) => isAbsolute(p), { message: "must be an absolute path" });

const name = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]*$/,
    "may contain only letters, digits, '_', '.', '-' and must start with a letter or digit",
  );

const commandArgv = z.array(z.string()).min(1, "must name a command");

const envMap = z.record(
  z
    .string()
    .regex(
      /^[A-Za-z_][A-Za-z0-9_]*$/,
      "must be an environment variable name (letters, digits, '_')",
    ),
  z.string(),
);

/**
 * A restic repository string: a backend prefix (sftp:, rest:, s3:, ...) or a local path, which
 * must be absolute: a relative one would depend on the directory snapback happens to run in.
 */
const resticUrl = z
  .string()
  .min(1, "must not be empty")
  .refine(
    (u) =>
      isAbsolute(u.replace(/^local:/, "")) || /^(sftp|rest|s3|b2|azure|gs|swift|rclone):/.test(u),
    {
      message:
        "must be an absolute path or a restic repository string such as sftp:user@host:/path",
    },
  );

export const retentionSchema = z.strictObject({
  keep_last: z.int().nonnegative().optional(),
  keep_hourly: z.int().nonnegative().optional(),
  keep_daily: z.int().nonnegative().optional(),
  keep_weekly: z.int().nonnegative().optional(),
  keep_monthly: z.int().nonnegative().optional(),
  keep_yearly: z.int().nonnegative().optional(),
  keep_within: z
    .string()
    .regex(/^(\d+[yMwdhm])+$/, "must look like 30d, 1y6m, 12h")
    .optional(),
  /** Filesystem snapshots kept on the source after the backup (0 = delete right away). */
  local_snapshots: z.int().nonnegative().default(0),
  /** Run restic prune after forget (default true). */
  prune: z.boolean().default(true),
  // --- prune_every (issue 9, item 15) ---
  /**
   * Prune at most this often after backups ("7d"): forget still runs after every backup, the
   * space of what it removed is freed by the first backup once the last prune is this old (or
   * by `snapback prune`). Without it, every backup that forgot something prunes.
   */
  prune_every: z
    .string()
    .regex(/^(\d+[wdhms])+$/, "must look like 7d, 12h, 1w2d")
    .optional(),
  // --- end prune_every ---
});

/** `[plans.X.check]`: a check run after a successful backup whenever the last one is older than `every`. */
export const checkScheduleSchema = z.strictObject({
  /** Read back this much pack data: "all", "n/t", "x%" or a size such as "500M". */
  read_data: z
    .string()
    .refine((s) => readDataSubsetProblem(s) === undefined, {
      message: `must be ${READ_DATA_FORMS}`,
    })
    .optional(),
  /** Restore this many random files of the new backup and compare them with the snapshot. */
  spot: z.int().positive().optional(),
  /** How often: "7d", "12h", "1w2d"; without it, after every successful backup. */
  every: z
    .string()
    .regex(/^(\d+[wdhms])+$/, "must look like 7d, 12h, 1w2d")
    .optional(),
});

const repositoryBase = {
  env: envMap.optional(),
  /** A file of KEY=VALUE lines added to the engine's environment (secrets allowed). */
  env_file: absolutePath.optional(),
};

// --- restic_binary (issue 10) ---
/** A restic executable: an absolute path, or a bare name looked up on PATH. */
const resticBinary = z
  .string()
  .regex(
    /^(\/.*[^/]|[A-Za-z0-9._+-]+)$/,
    'must be an absolute path or a program name, e.g. "/usr/local/bin/restic"',
  );
// --- end restic_binary ---

const resticRepository = z.strictObject({
  engine: z.literal("restic"),
  /** The restic binary for this repository; default: the global `restic_binary`, else restic on PATH. */
  restic_binary: resticBinary.optional(),
  /**
   * The server refuses deletes (rest-server --append-only): backups only; snapback never runs
   * forget/prune here and says so, since retention must run where deletes are allowed.
   */
  append_only: z.boolean().optional(),
  url: resticUrl,
  password_file: absolutePath.optional(),
  password_command: commandArgv.optional(),
  init: z.boolean().default(false),
  /** restic's cache directory; default <state_dir>/cache/restic. */
  cache_dir: absolutePath.optional(),
  /**
   * Backend options passed as `restic -o KEY=VALUE` ("sftp.command=ssh -p 2222 nas -s sftp",
   * "s3.region=eu-west-1"). They travel in the argument list, which every user of the machine
   * can read: never put a secret here — credentials go in the URL, `env` or `env_file`.
   */
  options: z
    .array(
      z
        .string()
        .regex(
          /^[a-z0-9]+\.[a-z0-9._-]+=/i,
          'must look like "backend.option=value", e.g. "sftp.command=ssh -p 2222 host -s sftp"',
        ),
    )
    .optional(),
  // --- issue 10: restic flags (extra_args, compression, pack_size, limit_*) ---
  ...resticRepositoryArgKeys,
  ...repositoryBase,
});

const kopiaRepository = z.strictObject({
  engine: z.literal("kopia"),
  /** kopia repository config file (created by `kopia repository connect/create`). */
  config_file: absolutePath,
  password_file: absolutePath.optional(),
  password_command: commandArgv.optional(),
  ...repositoryBase,
});

/**
 * Replication targets (btrfs/zfs send-receive): reached here or through ssh, with their own
 * keep rules if set (they then replace the plan's for this target, like btrbk's target_preserve).
 */
const replicationKeys = {
  /** `user@host`: the target is on another machine, reached with ssh (key auth, BatchMode). */
  ssh: z
    .string()
    .min(1)
    .regex(
      /^[^\s-][^\s]*$/,
      "must be an ssh destination like backup@nas (no spaces, no leading '-')",
    )
    .optional(),
  /** Extra ssh arguments, e.g. ["-i", "/root/.ssh/backup", "-p", "2222"]. */
  ssh_options: z.array(z.string()).optional(),
  keep_last: z.int().nonnegative().optional(),
  keep_hourly: z.int().nonnegative().optional(),
  keep_daily: z.int().nonnegative().optional(),
  keep_weekly: z.int().nonnegative().optional(),
  keep_monthly: z.int().nonnegative().optional(),
  keep_yearly: z.int().nonnegative().optional(),
  keep_within: z
    .string()
    .regex(/^(\d+[yMwdhm])+$/, "must look like 30d, 1y6m, 12h")
    .optional(),
};

const btrfsRepository = z.strictObject({
  engine: z.literal("btrfs"),
  /** Directory on a btrfs filesystem; one subdirectory per source is created in it. */
  path: absolutePath,
  ...replicationKeys,
  ...repositoryBase,
});

const zfsRepository = z.strictObject({
  engine: z.literal("zfs"),
  /** Dataset that receives one child dataset per source dataset (created if missing). */
  dataset: z
    .string()
    .regex(/^[A-Za-z0-9][\w.:-]*(\/[\w.:-]+)*$/, "must be a dataset name like pool/backup"),
  ...replicationKeys,
  ...repositoryBase,
});

export const repositorySchema = z
  .discriminatedUnion("engine", [resticRepository, kopiaRepository, btrfsRepository, zfsRepository])
  .superRefine((repo, ctx) => {
    if (
      (repo.engine === "restic" || repo.engine === "kopia") &&
      repo.password_file &&
      repo.password_command
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["password_command"],
        message: "set either password_file or password_command, not both",
      });
    }
    const envPassword = ["RESTIC_PASSWORD", "RESTIC_PASSWORD_FILE", "RESTIC_PASSWORD_COMMAND"].some(
      (k) => repo.env?.[k] !== undefined,
    );
    // env_file may carry RESTIC_PASSWORD; it is only read when a command runs.
    if (
      repo.engine === "restic" &&
      !repo.password_file &&
      !repo.password_command &&
      !envPassword &&
      !repo.env_file
    ) {
      ctx.addIssue({
        code: "custom",
        path: [],
        message: "a restic repository needs a password: set password_file or password_command",
      });
    }
  });

export const planSchema = z.strictObject({
  sources: z.array(absolutePath).default([]),
  repositories: z.array(name).min(1, "must name at least one repository"),
  snapshot: z.enum(["auto", "btrfs", "zfs", "none"]).default("auto"),
  /** Where btrfs snapshots are created; must be on the source's filesystem. Default: <mount>/.snapback */
  snapshot_dir: absolutePath.optional(),
  tags: z.array(z.string().regex(/^[^,\s]+$/, "must not contain commas or spaces")).default([]),
  exclude: z.array(z.string().min(1)).default([]),
  ...ignorePlanKeys,
  one_file_system: z.boolean().default(false),
  schedule: z.string().min(1).optional(),
  /** Block sleep while the scheduled backup runs (systemd-inhibit); default: on laptops. */
  inhibit_sleep: z.boolean().optional(),
  /** Host name recorded with the backup (default: this machine's). */
  host: z.string().min(1).optional(),
  /** ZFS: also snapshot and mount child datasets of each source. */
  recursive: z.boolean().default(true),
  zfs_datasets: z.enum(["property", "all"]).optional(),
  retention: retentionSchema.optional(),
  check: checkScheduleSchema.optional(),
  /** Commands run around the snapshots and after the run ([[plans.X.hooks]]). */
  hooks: hooksSchema,
  /** Database dumps streamed into the plan's repositories ([[plans.X.databases]]). */
  databases: databasesSchema,
  /** Where to report this plan's runs; replaces the global [[notify]] list when set. */
  notify: planNotifySchema,
  // --- issue 10: restic flags (extra_args, read_concurrency) ---
  ...resticPlanArgKeys,
});

export const configSchema = z
  .strictObject({
    state_dir: absolutePath.default("/var/lib/snapback"),
    repositories: z.record(name, repositorySchema).default({}),
    plans: z.record(name, planSchema).default({}),
    /** Default notification channels for plans that have none of their own. */
    notify: globalNotifySchema,
    /** Prometheus node_exporter textfile written after every run. */
    metrics: metricsSchema.optional(),
    /** Progress and control on the system bus (src/dbus). */
    dbus: dbusSchema.optional(),
    /** `snapback serve` (src/serve/schema.ts). */
    server: serverSchema.optional(),
    /** The restic binary of every restic repository that names none (issue 10). */
    restic_binary: resticBinary.optional(),
  })
  .superRefine((config, ctx) => {
    // --- NUL (issue 9): a string with a NUL cannot reach any argv or environment (spawn
    // throws). Every string of the config is checked, so no key that reaches a process can
    // be missed; the value is never quoted (it may be a secret).
    for (const path of nulPaths(config, [])) {
      ctx.addIssue({
        code: "custom",
        path,
        message: "must not contain a NUL character (\\0): no program can be given it",
      });
    }
    // --- end NUL
    for (const [planName, plan] of Object.entries(config.plans)) {
      plan.repositories.forEach((repo, i) => {
        if (!Object.hasOwn(config.repositories, repo)) {
          ctx.addIssue({
            code: "custom",
            path: ["plans", planName, "repositories", i],
            message: `unknown repository "${repo}" (defined: ${Object.keys(config.repositories).join(", ") || "none"})`,
          });
        }
      });
      if (
        plan.sources.length === 0 &&
        plan.zfs_datasets === undefined &&
        plan.databases.length === 0
      ) {
        ctx.addIssue({
          code: "custom",
          path: ["plans", planName, "sources"],
          message: "must list at least one absolute path",
        });
      }
      const seen = new Map<string, number>();
      plan.sources.forEach((s, i) => {
        const norm = s.replace(/\/+$/, "") || "/";
        const first = seen.get(norm);
        if (first !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: ["plans", planName, "sources", i],
            message: `repeats sources[${first}] (${s})`,
          });
        } else seen.set(norm, i);
      });
      // --- issue 10: restic flags of a plan need a restic repository to reach ---
      const resticKey = (["extra_args", "read_concurrency"] as const).find(
        (k) => plan[k] !== undefined,
      );
      if (
        resticKey !== undefined &&
        !plan.repositories.some((r) => config.repositories[r]?.engine === "restic")
      ) {
        ctx.addIssue({
          code: "custom",
          path: ["plans", planName, resticKey],
          message: "is for restic repositories, and none of the plan's repositories is one",
        });
      }
      const seenRepos = new Map<string, number>();
      plan.repositories.forEach((r, i) => {
        const first = seenRepos.get(r);
        if (first !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: ["plans", planName, "repositories", i],
            message: `repeats repositories[${first}] (${r})`,
          });
        } else seenRepos.set(r, i);
      });
    }
  });

/** Key paths of every string (or table key) holding a NUL. */
function nulPaths(value: unknown, path: (string | number)[]): (string | number)[][] {
  if (typeof value === "string") return value.includes("\0") ? [path] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => nulPaths(v, [...path, i]));
  if (value !== null && typeof value === "object" && !(value instanceof Date)) {
    return Object.entries(value).flatMap(([k, v]) =>
      k.includes("\0") ? [[...path, k]] : nulPaths(v, [...path, k]),
    );
  }
  return [];
}

export type Config = z.infer<typeof configSchema>;
export type Plan = z.infer<typeof planSchema>;
export type Repository = z.infer<typeof repositorySchema>;
export type ResticRepository = z.infer<typeof resticRepository>;
export type BtrfsRepository = z.infer<typeof btrfsRepository>;
export type ZfsRepository = z.infer<typeof zfsRepository>;
export type Retention = z.infer<typeof retentionSchema>;
export type CheckSchedule = z.infer<typeof checkScheduleSchema>;
