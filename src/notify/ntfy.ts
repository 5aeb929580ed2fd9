import { open } from "node:fs/promises";
import { registerSecret } from "../log.js";
import type { HttpRequest } from "./http.js";
import { startText, startTitle, summaryText, title } from "./message.js";
import type { ChannelDriver } from "./registry.js";
import { NTFY_PRIORITIES, type NtfyChannel } from "../config/notify.js";
import type { FinishEvent } from "./types.js";

/**
 * ntfy: POST <server>/<topic> with the message as body and Title, Priority and Tags headers;
 * `Authorization: Bearer <token>` when token_file is set. On a public server the topic is as
 * good as a password, so it is kept out of logs like the token.
 */

/** ntfy turns longer messages into attachments (or refuses them); stay below. */
export const NTFY_MESSAGE_LIMIT = 4000;

const TAGS: Record<FinishEvent | "start", string> = {
  start: "arrow_forward",
  success: "white_check_mark",
  partial: "warning",
  failure: "rotating_light",
};

const DEFAULT_PRIORITY: Record<FinishEvent | "start", number> = {
  start: 2,
  success: 3,
  partial: 4,
  failure: 4,
};

export const ntfy: ChannelDriver<NtfyChannel> = {
  async start(channel, ctx) {
    return publish(channel, "start", startTitle(ctx), startText(ctx));
  },
  async finish(channel, report, event) {
    return publish(channel, event, title(report), summaryText(report));
  },
};

async function publish(
  channel: NtfyChannel,
  event: FinishEvent | "start",
  heading: string,
  message: string,
): Promise<HttpRequest> {
  const url = new URL(channel.url);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/${channel.topic}`;
  const priority =
    channel.priority === undefined
      ? DEFAULT_PRIORITY[event]
      : typeof channel.priority === "number"
        ? channel.priority
        : NTFY_PRIORITIES[channel.priority];
  const headers: Record<string, string> = {
    "Content-Type": "text/plain; charset=utf-8",
    // Header values must be Latin-1; plan names are ASCII but stay safe anyway.
    Title: heading.replace(/[^\x20-\x7e]/g, "?"),
    Priority: String(priority),
    Tags: `${TAGS[event]},snapback`,
  };
  const secrets = [channel.url, channel.topic, url.href];
  if (channel.token_file) {
    const token = await readToken(channel.token_file);
    registerSecret(token);
    headers.Authorization = `Bearer ${token}`;
    secrets.push(token);
  }
  return { method: "POST", url, headers, body: keepHead(message, NTFY_MESSAGE_LIMIT), secrets };
}

/** The token file's first line; refused when other users could read it. */
async function readToken(path: string): Promise<string> {
  let text: string;
  try {
    const fh = await open(path, "r");
    try {
      const mode = (await fh.stat()).mode;
      if ((mode & 0o044) !== 0) {
        throw new Error(
          `token_file ${path} is readable by other users (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${path}`,
        );
      }
      text = await fh.readFile("utf8");
    } finally {
      await fh.close();
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === undefined) throw e;
    throw new Error(`token_file ${path} cannot be read (${code})`, { cause: e });
  }
  const token = text.split(/\r?\n/, 1)[0]?.trim() ?? "";
  if (!token) throw new Error(`token_file ${path} is empty (the token is its first line)`);
  return token;
}

/** Keeps the START of text within maxBytes of UTF-8: the outcome comes first. */
function keepHead(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes - 4;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return `${bytes.subarray(0, end).toString("utf8")}\n...`;
}
