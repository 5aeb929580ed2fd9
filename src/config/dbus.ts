import * as z from "../util/zod.js";

/** `[dbus]`: progress and control on the system bus (org.snapback.Snapback1). */
export const dbusSchema = z.strictObject({
  /** Publish runs on the system bus when it is there (default true). */
  enable: z.boolean().default(true),
  /** Besides root, members of this group may StartBackup, Cancel and Stop (the bus policy must admit them too). */
  allow_group: z
    .string()
    .refine((g) => /^[A-Za-z_][A-Za-z0-9_.-]*\$?$/.test(g), {
      error: (issue) => `must be a group name such as "backup", not ${JSON.stringify(issue.input)}`,
    })
    .optional(),
  /** Fill Progress.current_files: every user on the bus then sees the names of the files being read. */
  broadcast_file_names: z.boolean().default(false),
});

export type DbusConfig = z.infer<typeof dbusSchema>;
