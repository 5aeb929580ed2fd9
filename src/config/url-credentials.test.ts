import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UsageError } from "../errors.js";
import { redact } from "../log.js";
import { loadConfig, secretKeys, parseConfigText } from "./load.js";
import { redactConfig, urlCredentials } from "./redact.js";

const PASSWORD = "S3cretPW-url";

const config = (url: string): string => `[repositories.nas]
engine = "restic"
url = "${url}"
password_file = "/etc/snapback/nas.pass"

[plans.home]
sources = ["/home"]
repositories = ["nas"]
`;

async function configFile(text: string, mode: number): Promise<AsyncDisposable & { path: string }> {
  const dir = await mkdtemp(join(tmpdir(), "snapback-url-cred-"));
  const path = join(dir, "snapback.toml");
  await writeFile(path, text);
  await chmod(path, mode);
  return { path, [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }) };
}

describe("credentials in a repository URL are secrets", () => {
  it("a group/world-readable config with them is refused, the key named, the value never shown", async () => {
    for (const mode of [0o644, 0o640]) {
      await using f = await configFile(
        config(`rest:https://backup:${PASSWORD}@nas.example.net:8000/server`),
        mode,
      );
      const err: unknown = await loadConfig(f.path).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UsageError);
      const e = err as UsageError;
      expect(e.exitCode).toBe(2);
      expect(e.message).toContain("repositories.nas.url");
      expect(e.message).toContain(`mode ${mode.toString(8)}`);
      expect(e.message).not.toContain(PASSWORD);
      expect(e.hint).toBe(`run: chmod 600 ${f.path}`);
    }
  });

  it("at mode 0600 it loads, and from then on every log line and error hides the password", async () => {
    await using f = await configFile(
      config(`rest:https://backup:${PASSWORD}@nas.example.net:8000/server`),
      0o600,
    );
    await loadConfig(f.path);
    expect(redact(`Fatal: cannot reach https://backup:${PASSWORD}@nas/`)).not.toContain(PASSWORD);
  });

  it("a URL without credentials (sftp login, plain rest) needs no private file", async () => {
    for (const url of ["sftp:backup@nas:/srv/restic", "rest:https://nas.example.net:8000/"]) {
      await using f = await configFile(config(url), 0o644);
      await expect(loadConfig(f.path)).resolves.toBeDefined();
    }
  });

  it("names every key that holds a secret, and config show redacts the URL's", () => {
    const c = parseConfigText(config(`rest:https://backup:${PASSWORD}@nas:8000/`));
    expect(secretKeys(c)).toEqual(["repositories.nas.url"]);
    expect(JSON.stringify(redactConfig(c))).not.toContain(PASSWORD);
    expect(urlCredentials(`rest:https://backup:${PASSWORD}@nas:8000/`)).toContain(PASSWORD);
    expect(urlCredentials("rest:https://TOKEN123@nas:8000/")).toEqual(["TOKEN123"]);
    expect(urlCredentials("sftp://backup@nas/srv")).toEqual([]);
  });
});
