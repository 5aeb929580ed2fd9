/**
 * How a database dump is recorded in a repository. Each dump is its own snapshot holding
 * one file, `/snapback-databases/<plan>/<name>.<format>`, tagged `plan:<plan>` and
 * `database:<name>`. The file's suffix says which program wrote it, so a restore loads it
 * with the matching program even after the config changed.
 */

export const DATABASE_ROOT = "/snapback-databases";
const TAG_PREFIX = "database:";

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

/** The database entry a snapshot holds the dump of, from its tags. */
export function databaseFromTags(tags: readonly string[]): string | undefined {
  return tags.find((t) => t.startsWith(TAG_PREFIX))?.slice(TAG_PREFIX.length);
}

/**
 * Database snapshots share the plan's tag with its filesystem backups, so whatever picks
 * "the plan's latest backup" of files (restore, spot checks) must skip them.
 */
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
