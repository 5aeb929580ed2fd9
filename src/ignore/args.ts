/** What a plan asks restic to leave out, besides its --exclude patterns. */
export interface ExcludeOptions {
  /** From writeExcludeFile. */
  excludeFile?: string;
  excludeIfPresent?: readonly string[];
  excludeCaches?: boolean;
  /** A size restic understands, as validated by excludeLargerThanSchema. */
  excludeLargerThan?: string;
}

/** `restic backup` flags for these options; "--flag=value" so no value is read as a flag. */
export function resticExcludeArgs(o: ExcludeOptions): string[] {
  const args: string[] = [];
  if (o.excludeFile !== undefined) args.push(`--exclude-file=${o.excludeFile}`);
  for (const f of o.excludeIfPresent ?? []) args.push(`--exclude-if-present=${f}`);
  if (o.excludeCaches) args.push("--exclude-caches");
  if (o.excludeLargerThan !== undefined) args.push(`--exclude-larger-than=${o.excludeLargerThan}`);
  return args;
}
