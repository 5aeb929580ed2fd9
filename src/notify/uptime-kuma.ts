import { redact, registerSecret } from "../log.js";
import type { HttpRequest } from "./http.js";
import { shortText } from "./message.js";
import type { ChannelDriver } from "./registry.js";
import type { UptimeKumaChannel } from "../config/notify.js";

/**
 * Uptime Kuma push monitor: GET <push url>?status=up|down&msg=<one line>&ping=<run ms>.
 * A partial run is "down": some files are missing from the backup. Parameters already in
 * the configured URL (the UI offers it as ...?status=up&msg=OK&ping=) are replaced.
 */
export const uptimeKuma: ChannelDriver<UptimeKumaChannel> = {
  start() {
    // A push monitor knows only heartbeats; a start would count as one and hide a hang.
    return Promise.resolve(undefined);
  },
  finish(channel, report, event) {
    const url = new URL(channel.url);
    // The path ends in the push token.
    registerSecret(url.pathname.length > 1 ? url.pathname : undefined);
    url.searchParams.set("status", event === "success" ? "up" : "down");
    url.searchParams.set("msg", redact(shortText(report)));
    url.searchParams.set("ping", String(Math.max(0, Math.round(report.result.duration_s * 1000))));
    const request: HttpRequest = {
      method: "GET",
      url,
      headers: {},
      secrets: [channel.url, new URL(channel.url).pathname, url.href],
    };
    return Promise.resolve(request);
  },
};
