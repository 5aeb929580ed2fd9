import { registerSecret } from "../log.js";
import type { HttpRequest } from "./http.js";
import type { ChannelDriver } from "./registry.js";
import type { WebhookChannel } from "../config/notify.js";

/**
 * A generic webhook: POST of a JSON document.
 * - start:  {"event":"snapback.start","plan","run_id","sources","repositories"}
 * - finish: {"event":"snapback.run","result":<result event>,"summaries":[<summary events>]}
 * The configured headers are sent as given; their values are treated as secrets.
 */
export const webhook: ChannelDriver<WebhookChannel> = {
  start(channel, ctx) {
    return Promise.resolve(
      post(channel, {
        event: "snapback.start",
        plan: ctx.plan,
        run_id: ctx.run_id,
        sources: ctx.sources ?? [],
        repositories: ctx.repositories ?? [],
      }),
    );
  },
  finish(channel, report) {
    return Promise.resolve(
      post(channel, { event: "snapback.run", result: report.result, summaries: report.summaries }),
    );
  },
};

function post(channel: WebhookChannel, document: unknown): HttpRequest {
  const headerValues = Object.values(channel.headers ?? {});
  for (const v of headerValues) registerSecret(v);
  const url = new URL(channel.url);
  return {
    method: "POST",
    url,
    headers: { "Content-Type": "application/json", ...channel.headers },
    body: JSON.stringify(document),
    // Chat webhooks carry their token in the path or query.
    secrets: [...headerValues, channel.url, url.pathname, url.search],
  };
}
