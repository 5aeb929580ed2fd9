import * as z from "../util/zod.js";

/**
 * Plan keys for ignore files and restic's other exclude options, to spread into the plan
 * schema (`z.strictObject({ ..., ...ignorePlanKeys })`). exclude_caches and
 * exclude_if_present keep the defaults src/config/schema.ts already has.
 */

/** A file name looked for in every directory of the sources, e.g. ".snapbackignore". */
export const ignoreFileSchema = z
  .string()
  .min(1, "must not be empty")
  .refine((n) => !n.includes("/") && n !== "." && n !== "..", {
    message: 'must be a file name such as ".snapbackignore", not a path',
  });

const INT64_MAX = 2n ** 63n - 1n;
const UNITS: Record<string, bigint> = {
  b: 1n,
  k: 1024n,
  m: 1024n ** 2n,
  g: 1024n ** 3n,
  t: 1024n ** 4n,
};

/** Bytes of a restic size ("500M", "2g", "1024"); undefined when restic would refuse it. */
export function parseResticSize(size: string): bigint | undefined {
  const m = /^(\d+)([bkmgt])?$/i.exec(size);
  if (!m) return undefined;
  const bytes = BigInt(m[1] ?? "0") * (UNITS[(m[2] ?? "b").toLowerCase()] ?? 1n);
  return bytes > INT64_MAX ? undefined : bytes;
}

/**
 * restic --exclude-larger-than (restic 0.10.0 and later): files larger than this are left
 * out. A TOML integer is bytes; a string takes restic's suffixes k, m, g, t (powers of 1024).
 */
export const excludeLargerThanSchema = z
  .union([z.int().positive(), z.string()])
  .transform((v, ctx) => {
    const text = typeof v === "number" ? String(v) : v.trim();
    const bytes = parseResticSize(text);
    if (bytes === undefined) {
      ctx.addIssue({
        code: "custom",
        message: 'must be a size such as "500M", "2G" or a number of bytes (suffixes k, m, g, t)',
      });
      return z.NEVER;
    }
    if (bytes === 0n) {
      ctx.addIssue({
        code: "custom",
        message: "must be larger than 0 (0 would exclude every non-empty file)",
      });
      return z.NEVER;
    }
    return text;
  });

/** restic --exclude-if-present takes "filename[:header]"; the name cannot have wildcards or a "/". */
export const excludeIfPresentSchema = z
  .string()
  .min(1, "must not be empty")
  .refine(
    (spec) => {
      const name = spec.split(":", 1)[0] ?? "";
      return name !== "" && !name.includes("/") && !/[*?[\]]/.test(name);
    },
    { message: 'must be a file name, optionally followed by ":header" (no "/", no wildcards)' },
  );

export const ignorePlanKeys = {
  /** Ignore files with gitignore syntax, looked for in every directory of the sources. */
  ignore_file: ignoreFileSchema.optional(),
  exclude_caches: z.boolean().default(false),
  exclude_if_present: z.array(excludeIfPresentSchema).default([]),
  exclude_larger_than: excludeLargerThanSchema.optional(),
};
