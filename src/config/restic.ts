import * as z from "../util/zod.js";

/**
 * Config keys that reach restic's argument list: `extra_args` (flags users pass through, as
 * nixpkgs' extraBackupArgs or igotchuu's restic_args do) and first-class tuning keys. Spread
 * into the repository and plan schemas of src/config/schema.ts.
 */

/** The restic commands a user may add flags to. */
export const EXTRA_ARGS_COMMANDS = ["backup", "forget", "prune", "check", "restore"] as const;
export type ExtraArgsCommand = (typeof EXTRA_ARGS_COMMANDS)[number];

/**
 * Flags snapback sets itself (or that would break what it parses), per command; "*" for every
 * command. A user's copy would override or contradict snapback's: refused, naming the key that
 * covers it when there is one. Names include their short forms.
 */
const OWNED: Record<ExtraArgsCommand | "*", Record<string, string>> = {
  "*": {
    "-r": "snapback sets the repository (url)",
    "--repo": "snapback sets the repository (url)",
    "--repository-file": "snapback sets the repository (url)",
    "-p": "snapback passes the password (password_file / password_command)",
    "--password-file": "snapback passes the password (password_file / password_command)",
    "--password-command": "snapback passes the password (password_file / password_command)",
    "--insecure-no-password": "snapback passes the password (password_file / password_command)",
    "--key-hint": "snapback passes the password (password_file / password_command)",
    "--json": "snapback reads restic's JSON output itself",
    "--cache-dir": "use cache_dir",
    "-o": "use options",
    "--option": "use options",
    "--compression": "use compression",
    "--pack-size": "use pack_size",
    "--limit-upload": "use limit_upload",
    "--limit-download": "use limit_download",
    "-n": "use snapback's --dry-run",
    "--dry-run": "use snapback's --dry-run",
  },
  backup: {
    "--tag": "use tags",
    "--host": "use host",
    "-H": "use host",
    "--parent": "snapback chooses the parent snapshot",
    "--exclude-file": "use exclude or ignore_file",
    "--iexclude-file": "use exclude or ignore_file",
    "--files-from": "snapback passes the sources",
    "--files-from-raw": "snapback passes the sources",
    "--files-from-verbatim": "snapback passes the sources",
    "--stdin": "use [[plans.X.databases]] for streams",
    "--stdin-filename": "use [[plans.X.databases]] for streams",
    "--stdin-from-command": "use [[plans.X.databases]] for streams",
    "--read-concurrency": "use read_concurrency",
    "--one-file-system": "use one_file_system",
    "-x": "use one_file_system",
  },
  forget: {
    "--tag": "snapback selects the plan's backups",
    "--host": "snapback selects the plan's backups",
    "--path": "snapback selects the plan's backups",
    "-g": "snapback groups the plan's backups",
    "--group-by": "snapback groups the plan's backups",
    "--prune": "use retention.prune",
    "--keep-*": "use [plans.X.retention]",
  },
  prune: {},
  check: {
    "--read-data": "use check.read_data or --read-data",
    "--read-data-subset": "use check.read_data or --read-data",
  },
  restore: {
    "-t": "use restore --to",
    "--target": "use restore --to",
    "-i": "snapback passes the paths to restore",
    "--include": "snapback passes the paths to restore",
    "--tag": "snapback selects the plan's backups",
    "--host": "snapback selects the plan's backups",
    "-H": "snapback selects the plan's backups",
    "--path": "snapback selects the plan's backups",
    "--overwrite": "use restore --overwrite",
  },
};

/** Why `flag` (a name such as "--tag") may not be passed to `command`, or undefined. */
export function ownedFlagReason(command: ExtraArgsCommand, flag: string): string | undefined {
  const own = OWNED[command];
  const all = OWNED["*"];
  if (Object.hasOwn(all, flag)) return all[flag];
  if (Object.hasOwn(own, flag)) return own[flag];
  if (flag.startsWith("--password")) return all["--password-file"];
  if (flag.startsWith("--stdin")) return OWNED.backup["--stdin"];
  if (command === "forget" && flag.startsWith("--keep-")) return own["--keep-*"];
  return undefined;
}

/** A problem with one extra_args element, or undefined when restic may get it. */
export function extraArgProblem(command: ExtraArgsCommand, arg: string): string | undefined {
  if (arg.includes("\0")) return "must not contain a NUL character";
  if (!arg.startsWith("-") || arg === "-" || arg === "--") {
    // A bare word would be a path to back up (or a snapshot id), and "--" would end the flags.
    return 'must be a flag such as "--no-scan" or "--flag=value" (give a value with "=", not as its own element)';
  }
  const name = arg.split("=", 1)[0] ?? arg;
  if (!arg.startsWith("--") && name.length > 2) {
    return 'must be one short flag such as "-v" (write combined short flags separately)';
  }
  const reason = ownedFlagReason(command, name);
  if (reason === undefined) return undefined;
  // A password flag's value is never repeated; any other value is quoted.
  const quoted = /^--?(p|password.*|key-hint)$/.test(name) ? "" : `${JSON.stringify(arg)}: `;
  return `${quoted}${name} is set by snapback: ${reason}`;
}

function argsFor(command: ExtraArgsCommand) {
  return z.array(z.string()).superRefine((args, ctx) => {
    args.forEach((arg, i) => {
      const problem = extraArgProblem(command, arg);
      if (problem !== undefined) ctx.addIssue({ code: "custom", path: [i], message: problem });
    });
  });
}

function extraArgsSchema<const C extends readonly ExtraArgsCommand[]>(commands: C) {
  const shape = Object.fromEntries(commands.map((c) => [c, argsFor(c).optional()])) as {
    [K in C[number]]: z.ZodOptional<ReturnType<typeof argsFor>>;
  };
  // `extra_args = ["--no-scan"]` is short for `extra_args = { backup = ["--no-scan"] }`.
  return z.preprocess(
    (v) => (Array.isArray(v) ? { backup: v as unknown } : v),
    z.strictObject(shape),
  );
}

/** A repository's extra flags, per restic command. */
export const repositoryExtraArgsSchema = extraArgsSchema(EXTRA_ARGS_COMMANDS);
/** A plan's extra flags: for the commands that run for one plan. */
export const planExtraArgsSchema = extraArgsSchema(["backup", "forget", "restore"] as const);

export type ExtraArgs = Partial<Record<ExtraArgsCommand, string[]>>;

/** restic's rate limits are whole KiB/s. */
const kibPerSecond = z.int().positive("must be a positive number of KiB/s");

/** Keys of a restic repository that become restic flags (checked against the binary's version). */
export const resticRepositoryArgKeys = {
  /** Flags appended to snapback's own, per command (`extra_args = [...]` means backup). */
  extra_args: repositoryExtraArgsSchema.optional(),
  /** `--compression`: "auto" (restic's default), "off", "max". Needs restic 0.14+. */
  compression: z.enum(["auto", "off", "max"]).optional(),
  /** `--pack-size` in MiB (restic: 4–128). Needs restic 0.14+. */
  pack_size: z
    .int()
    .min(4, "must be at least 4 (MiB)")
    .max(128, "must be at most 128 (MiB)")
    .optional(),
  /** `--limit-upload` in KiB/s. */
  limit_upload: kibPerSecond.optional(),
  /** `--limit-download` in KiB/s. */
  limit_download: kibPerSecond.optional(),
};

/** Keys of a plan that become restic flags. */
export const resticPlanArgKeys = {
  /** Flags appended to snapback's own for this plan's backup/forget/restore on restic repositories. */
  extra_args: planExtraArgsSchema.optional(),
  /** `restic backup --read-concurrency`: files read at once. Needs restic 0.15+. */
  read_concurrency: z.int().positive().max(1024).optional(),
};
