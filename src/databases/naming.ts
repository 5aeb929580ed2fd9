/**
 * How a database dump is recorded in a repository. Each dump is its own snapshot holding
 * one file, `/snapback-databases/<plan>/<name>.<format>`, tagged `plan-db:<plan>` and
 * `database:<name>` (plus the plan's own tags). The file's suffix says which program wrote
 * it, so a restore loads it with the matching program even after the config changed.
 *
 * Dumps deliberately do NOT carry the plan's `plan:<plan>` tag: everything that selects "the
 * plan's backups" by that tag — the parent of the next backup, `restore`'s latest, spot
 * checks, and retention (`forget --tag plan:<plan> --group-by host` makes ONE group, in
 * which nightly dumps would take every keep slot from the filesystem backups) — keeps
 * seeing filesystem backups only. Whatever wants dumps asks for them by their own tags.
 */

export const DATABASE_ROOT = "/snapback-databases";
const TAG_PREFIX = "database:";
const PLAN_TAG_PREFIX = "plan-db:";

/** The program that wrote a dump, as the stored file's suffix. */
export type DumpFormat = "pg_dump" | "pg_dump.sql" | "pg_dumpall.sql" | "mysqldump.sql" | "sqlite";

const FORMATS: readonly DumpFormat[] = [
  // Longest first: "x.pg_dump.sql" must not be read as "pg_dump".
  "pg_dumpall.sql",
  "pg_dump.sql",
  "mysqldump.sql",
  "pg_dump",
  "sqlite",
];

export function databaseTag(name: string): string {
  return `${TAG_PREFIX}${name}`;
}

/** The tag every dump of a plan carries (its databases' counterpart of `plan:<plan>`). */
export function planDatabasesTag(plan: string): string {
  return `${PLAN_TAG_PREFIX}${plan}`;
}

/** The tags of one dump; `planTags` are the plan's configured tags. */
export function dumpTags(plan: string, name: string, planTags: readonly string[]): string[] {
  return [...planTags, planDatabasesTag(plan), databaseTag(name)];
}

/** Tags that select every dump of one database entry of a plan. */
export function dumpSelector(plan: string, name: string): string[] {
  return [planDatabasesTag(plan), databaseTag(name)];
}

/** The database entry a snapshot holds the dump of, from its tags. */
export function databaseFromTags(tags: readonly string[]): string | undefined {
  return tags.find((t) => t.startsWith(TAG_PREFIX))?.slice(TAG_PREFIX.length);
}

/** Whether a snapshot is a database dump (for listings that show every snapshot). */
export function isDatabaseSnapshot(tags: readonly string[]): boolean {
  return databaseFromTags(tags) !== undefined;
}

export function dumpPath(plan: string, name: string, format: DumpFormat): string {
  return `${DATABASE_ROOT}/${plan}/${name}.${format}`;
}

/** The format of a stored dump, from its path. */
export function formatOfPath(path: string): DumpFormat | undefined {
  const base = path.slice(path.lastIndexOf("/") + 1);
  return FORMATS.find((f) => base.endsWith(`.${f}`));
}
