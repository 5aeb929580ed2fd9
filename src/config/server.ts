import { isAbsolute } from "node:path";
import * as z from "../util/zod.js";

const absolutePath = z
  .string()
  .min(1, "must not be empty")
  .refine((p) => isAbsolute(p), { message: "must be an absolute path" });

/** "host:port", "[v6]:port" or ":port" (all interfaces). */
export const listenAddress = z
  .string()
  .regex(
    /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):\d{1,5}$/,
    'must look like "127.0.0.1:8470", "[::1]:8470" or ":8470"',
  )
  .refine((a) => Number(a.slice(a.lastIndexOf(":") + 1)) <= 65535, {
    message: "port must be 0-65535",
  });

/** `[server]`: the daemon `snapback serve` (see the contract, "The service"). */
export const serverSchema = z
  .strictObject({
    listen: listenAddress.default("127.0.0.1:8470"),
    /** Where the API and UI live behind a reverse proxy, e.g. "/backup/". */
    base_path: z
      .string()
      .regex(/^\/([A-Za-z0-9._~-]+\/)*$/, 'must start and end with "/", like "/" or "/backup/"')
      .default("/"),
    /** Default <state_dir>/users. */
    users_file: absolutePath.optional(),
    /** Run plans' `schedule` in the daemon instead of systemd timers. */
    scheduler: z.boolean().default(false),
    /** Plans run at once by this daemon (plans sharing a repository still take turns). */
    max_parallel: z.int().positive().default(2),
    /** Up to this long after the scheduled time, chosen at random (systemd's RandomizedDelaySec). */
    randomized_delay: z
      .string()
      .regex(/^(\d+(ms|s|m|h))+$/, "must look like 30s, 5m, 1h")
      .optional(),
    tls_cert: absolutePath.optional(),
    tls_key: absolutePath.optional(),
    /** Allow a non-loopback `listen` without TLS (e.g. behind a TLS-terminating proxy on another host). */
    allow_plain_http: z.boolean().default(false),
    /** Idle session lifetime. */
    session_hours: z.number().positive().default(12),
  })
  .superRefine((s, ctx) => {
    if ((s.tls_cert === undefined) !== (s.tls_key === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: [s.tls_cert === undefined ? "tls_cert" : "tls_key"],
        message: "tls_cert and tls_key go together",
      });
    }
  });

export type ServerConfig = z.infer<typeof serverSchema>;
export const DEFAULT_SERVER: ServerConfig = serverSchema.parse({});
