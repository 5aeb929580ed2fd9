import * as z from "../util/zod.js";
import {
  auditResponse,
  backupRequest,
  errorResponse,
  loginRequest,
  meResponse,
  planResponse,
  runDetailResponse,
  runResponse,
  runsQuery,
  startedResponse,
  statusResponse,
} from "./api.js";
import { checkRequest, pruneRequest, restoreRequest } from "./repo-routes.js";

type Schema = z.ZodType;

const json = (schema: Schema, io: "input" | "output" = "output"): Record<string, unknown> => ({
  "application/json": { schema: z.toJSONSchema(schema, { io, unrepresentable: "any" }) },
});

const ok = (description: string, schema: Schema, code = "200"): Record<string, unknown> => ({
  [code]: { description, content: json(schema) },
  "401": { description: "no session or token", content: json(errorResponse) },
});

const CHANGING = {
  "403": {
    description: "viewer, or a cookie session without this server's Origin (CSRF)",
    content: json(errorResponse),
  },
};

const planParam = { name: "plan", in: "path", required: true, schema: { type: "string" } };
const repoParam = { name: "repo", in: "path", required: true, schema: { type: "string" } };
const idParam = { name: "id", in: "path", required: true, schema: { type: "string" } };
const runParam = { name: "run_id", in: "path", required: true, schema: { type: "string" } };

/** The OpenAPI 3.1 document of the API, generated from the zod schemas the routes validate with. */
export function openApiDocument(basePath: string): Record<string, unknown> {
  const queryParams = Object.entries(
    (z.toJSONSchema(runsQuery, { io: "input" }) as { properties: Record<string, unknown> })
      .properties,
  ).map(([name, schema]) => ({ name, in: "query", required: false, schema }));
  return {
    openapi: "3.1.0",
    info: { title: "snapback", version: "0.1.0" },
    servers: [{ url: basePath }],
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer" },
        cookie: { type: "apiKey", in: "cookie", name: "snapback_session" },
      },
    },
    security: [{ bearer: [] }, { cookie: [] }],
    paths: {
      "/healthz": { get: { security: [], responses: { "200": { description: "alive" } } } },
      "/api/login": {
        post: {
          security: [],
          requestBody: { content: json(loginRequest, "input") },
          responses: {
            "200": { description: "session cookie set", content: json(meResponse) },
            "401": { description: "wrong user name or password" },
            "429": { description: "too many failed logins" },
          },
        },
      },
      "/api/logout": { post: { responses: { "200": { description: "session ended" } } } },
      "/api/me": { get: { responses: ok("who is asking", meResponse) } },
      "/api/plans": { get: { responses: ok("every plan", z.array(planResponse)) } },
      "/api/plans/{plan}/backup": {
        post: {
          parameters: [planParam],
          requestBody: { content: json(backupRequest, "input") },
          responses: {
            ...ok("run started", startedResponse, "202"),
            ...CHANGING,
            "404": { description: "no such plan" },
            "409": { description: "the plan is running" },
          },
        },
      },
      "/api/runs": {
        get: { parameters: queryParams, responses: ok("runs, newest first", z.array(runResponse)) },
      },
      "/api/runs/{run_id}": {
        get: { parameters: [runParam], responses: ok("one run", runDetailResponse) },
      },
      "/api/runs/{run_id}/cancel": {
        post: {
          parameters: [runParam],
          responses: {
            "202": { description: "stopping (status becomes interrupted)" },
            ...CHANGING,
            "409": { description: "not running here" },
          },
        },
      },
      "/api/events": {
        get: {
          description:
            "Server-Sent Events: every event of every run (the --json events of backup, with run_id)",
          responses: { "200": { description: "text/event-stream" } },
        },
      },
      "/api/plans/{plan}/snapshots": {
        get: {
          parameters: [planParam],
          description:
            "One timeline: restic/kopia backups (kind backup), replication-target snapshots (replica) and local restore points (restore_point), newest first",
          responses: { "200": { description: "snapshots" } },
        },
      },
      "/api/snapshots/{repo}/{id}/tree": {
        get: {
          parameters: [
            repoParam,
            idParam,
            { name: "path", in: "query", schema: { type: "string" } },
          ],
          responses: {
            "200": { description: "one directory level" },
            "403": { description: "outside what the plans back up" },
          },
        },
      },
      "/api/snapshots/local/{id}/tree": {
        get: {
          parameters: [idParam, { name: "path", in: "query", schema: { type: "string" } }],
          description:
            "One directory level of a local restore point (id: its run_id), read from the filesystem",
          responses: { "200": { description: "one directory level" } },
        },
      },
      "/api/snapshots/{repo}/{id}/download": {
        get: {
          parameters: [
            repoParam,
            idParam,
            { name: "path", in: "query", required: true, schema: { type: "string" } },
          ],
          responses: { "200": { description: "the file, or a directory as a tar stream" } },
        },
      },
      "/api/snapshots/{repo}/diff": {
        get: {
          parameters: [
            repoParam,
            { name: "from", in: "query", required: true, schema: { type: "string" } },
            { name: "to", in: "query", required: true, schema: { type: "string" } },
          ],
          responses: { "200": { description: "restic diff: changes and statistics" } },
        },
      },
      "/api/plans/{plan}/restore": {
        post: {
          parameters: [planParam],
          requestBody: { content: json(restoreRequest, "input") },
          responses: { "200": { description: "restored" }, ...CHANGING },
        },
      },
      "/api/plans/{plan}/check": {
        post: {
          parameters: [planParam],
          requestBody: { content: json(checkRequest, "input") },
          responses: { "200": { description: "the check report" }, ...CHANGING },
        },
      },
      "/api/plans/{plan}/prune": {
        post: {
          parameters: [planParam],
          requestBody: { content: json(pruneRequest, "input") },
          responses: { "200": { description: "the prune report" }, ...CHANGING },
        },
      },
      "/api/status": {
        get: { responses: ok("runs in progress and each plan's latest result", statusResponse) },
      },
      "/api/config": {
        get: {
          responses: { "200": { description: "the config with secrets redacted, and problems" } },
        },
      },
      "/api/audit": {
        get: { responses: ok("who changed what, newest first", z.array(auditResponse)) },
      },
      "/api/openapi.json": { get: { responses: { "200": { description: "this document" } } } },
      "/metrics": { get: { responses: { "200": { description: "Prometheus exposition" } } } },
    },
  };
}
