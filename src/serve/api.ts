import * as z from "../util/zod.js";
import { roleSchema } from "./users.js";

/**
 * The JSON API's request and response shapes. Requests are validated with these; the
 * OpenAPI document (`GET /api/openapi.json`) is generated from them.
 */

export const loginRequest = z.strictObject({
  user: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
});

export const backupRequest = z.strictObject({ dry_run: z.boolean().default(false) });

export const runsQuery = z.strictObject({
  plan: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  /** The last run_id of the previous page. */
  before: z.string().min(1).optional(),
  status: z.enum(["running", "success", "partial", "failed", "interrupted"]).optional(),
});

export const errorResponse = z.object({ error: z.string() });

export const meResponse = z.object({
  name: z.string(),
  role: roleSchema,
  kind: z.enum(["user", "token"]),
});

const status = z.enum(["queued", "running", "success", "partial", "failed", "interrupted"]);

export const planResponse = z.object({
  name: z.string(),
  sources: z.array(z.string()),
  repositories: z.array(z.string()),
  schedule: z.string().nullable(),
  last_run: z.object({ run_id: z.string(), status, time: z.string() }).nullable(),
  next_run: z.string().nullable(),
  running: z.boolean(),
  /** What the newest backup read (its restic total_bytes_processed, the largest repository's). */
  bytes_protected: z.number().nullable().optional(),
  /** The last 30 days, oldest first: the worst outcome of each day; "missed" when a scheduled run did not happen. */
  days: z
    .array(
      z.object({
        date: z.string(),
        status: z
          .enum(["success", "partial", "failed", "interrupted", "running", "missed"])
          .nullable(),
      }),
    )
    .optional(),
  /** The plan's last scheduled time passed without a run. */
  overdue: z.boolean().optional(),
});

export const loginInfoResponse = z.object({
  /** False on a fresh install: the login page says which command creates the first user. */
  has_users: z.boolean(),
});

const figures = z.object({
  files_new: z.number(),
  files_changed: z.number(),
  files_unmodified: z.number(),
  data_added: z.number(),
  duration_s: z.number(),
  error_count: z.number().optional(),
});

export const runResponse = z.object({
  run_id: z.string(),
  plan: z.string(),
  status,
  started_at: z.string().nullable(),
  ended_at: z.string().nullable(),
  repositories: z.array(z.string()),
  snapshot_ids: z.record(z.string(), z.string()),
  summaries: z.record(z.string(), figures),
  error: z.string().nullable(),
  /** The newest progress event while it runs. */
  progress: z.record(z.string(), z.unknown()).nullable(),
  started_by: z.string().nullable(),
});

export const runDetailResponse = runResponse.extend({
  warnings: z.array(z.string()),
  log_tail: z.array(z.string()),
  events: z.array(z.record(z.string(), z.unknown())),
});

export const startedResponse = z.object({ run_id: z.string() });

export const statusResponse = z.object({
  version: z.string(),
  running: z.array(runResponse),
  plans: z.array(planResponse),
  scheduler: z.boolean(),
  /** Config problems found at start (e.g. a plan also scheduled by a systemd timer). */
  problems: z.array(z.string()),
});

export const auditResponse = z.object({
  seq: z.number(),
  at: z.string(),
  user: z.string(),
  action: z.string(),
  target: z.string(),
  detail: z.record(z.string(), z.unknown()),
});

export type PlanResponse = z.infer<typeof planResponse>;
export type RunResponse = z.infer<typeof runResponse>;
export type RunDetailResponse = z.infer<typeof runDetailResponse>;
