import { describe, expect, it } from "vitest";
import { parseConfigText } from "./load.js";
import { isSecretKey, redactConfig, redactUrlCredentials, redactValue } from "./redact.js";

const SECRETS = [
  "wJalrXUtnFEMI-K7MDENG",
  "AKIAIOSFODNN7EXAMPLE",
  "K001b2applicationkey",
  "restic-env-password",
  "rest-server-pa55",
  "s3-url-secret",
  "ghp_tokenInUserinfo",
  "p@ss-with-at",
];

const TEXT = `state_dir = "/var/lib/snapback"

[repositories.cloud]
engine = "restic"
url = "s3:https://AKIAIOSFODNN7EXAMPLE:s3-url-secret@s3.example.com/bucket"
password_file = "/etc/snapback/cloud.pass"
env_file = "/etc/snapback/cloud.env"
env = { AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI-K7MDENG", B2_ACCOUNT_KEY = "K001b2applicationkey", RESTIC_PASSWORD = "restic-env-password" }

[repositories.rest]
engine = "restic"
url = "rest:https://backup:rest-server-pa55@rest.example.com:8000/home/"
password_command = ["pass", "show", "snapback/rest"]

[repositories.token]
engine = "restic"
url = "rest:https://ghp_tokenInUserinfo@git.example.com/repo/"
password_file = "/etc/snapback/token.pass"

[repositories.unencoded]
engine = "restic"
url = "rest:https://u:p@ss-with-at@host.example.com/"
password_file = "/etc/snapback/u.pass"

[repositories.nas]
engine = "restic"
url = "sftp:backup@nas:/srv/restic"
password_file = "/etc/snapback/nas.pass"

[plans.home]
sources = ["/home", "/var/lib/app"]
repositories = ["cloud", "rest", "token", "unencoded", "nas"]
exclude = ["/home/*/.cache"]

[plans.secrets]
sources = ["/srv/secrets"]
repositories = ["token"]
`;

describe("redactConfig", () => {
  const config = parseConfigText(TEXT);
  const shown = redactConfig(config);
  const json = JSON.stringify(shown);

  it.each(SECRETS)("never shows %s", (secret) => {
    expect(TEXT).toContain(secret);
    expect(json).not.toContain(secret);
  });

  it("keeps env variable names and hides their values", () => {
    expect(shown).toMatchObject({
      repositories: {
        cloud: {
          env: { AWS_SECRET_ACCESS_KEY: "***", B2_ACCOUNT_KEY: "***", RESTIC_PASSWORD: "***" },
        },
      },
    });
  });

  it("shows where secrets live: password_file, password_command, env_file", () => {
    expect(shown).toMatchObject({
      repositories: {
        cloud: { password_file: "/etc/snapback/cloud.pass", env_file: "/etc/snapback/cloud.env" },
        rest: { password_command: ["pass", "show", "snapback/rest"] },
      },
    });
  });

  it("hides URL credentials but keeps the rest of the URL and ssh login names", () => {
    expect(shown).toMatchObject({
      repositories: {
        cloud: { url: "s3:https://***@s3.example.com/bucket" },
        rest: { url: "rest:https://***@rest.example.com:8000/home/" },
        token: { url: "rest:https://***@git.example.com/repo/" },
        unencoded: { url: "rest:https://***@host.example.com/" },
        nas: { url: "sftp:backup@nas:/srv/restic" },
      },
    });
  });

  it("shows repository and plan names even when they look like secret keys", () => {
    expect(Object.keys((shown as { repositories: object }).repositories)).toContain("token");
    expect((shown as { plans: Record<string, unknown> }).plans["secrets"]).toEqual(
      config.plans["secrets"],
    );
  });

  it("keeps everything else, defaults included, and does not touch the config", () => {
    const before = JSON.stringify(config);
    const copy = redactConfig(config) as typeof config;
    expect(copy.plans).toEqual(config.plans);
    expect(copy.state_dir).toBe("/var/lib/snapback");
    expect(copy.repositories["nas"]).toEqual(config.repositories["nas"]);
    expect(JSON.stringify(config)).toBe(before);
  });
});

describe("redactValue", () => {
  it("hides anything under a key that names a secret, at any depth and of any type", () => {
    const value = {
      hooks: [
        {
          api_token: "tok-1",
          headers: { Authorization: "Bearer abc-4", Accept: "keep-me-visible" },
        },
      ],
      kopia: { clientSecret: { nested: "sec-2" }, access_key: ["k-3"], keyring: "visible-keyring" },
      monkey: "visible-monkey",
      keep_daily: 7,
    };
    const json = JSON.stringify(redactValue(value));
    for (const s of ["tok-1", "sec-2", "k-3", "abc-4"]) expect(json).not.toContain(s);
    for (const s of ["visible-keyring", "visible-monkey", "keep-me-visible", '"keep_daily":7']) {
      expect(json).toContain(s);
    }
  });
});

describe("isSecretKey", () => {
  it.each([
    ["password", true],
    ["AWS_SECRET_ACCESS_KEY", true],
    ["apiToken", true],
    ["B2_ACCOUNT_KEY", true],
    ["passphrase", true],
    ["password_file", false],
    ["password_command", false],
    ["env_file", false],
    ["keep_daily", false],
    ["keyring", false],
    ["exclude_caches", false],
  ])("%s → %s", (key, secret) => {
    expect(isSecretKey(key)).toBe(secret);
  });
});

describe("redactUrlCredentials", () => {
  it.each([
    ["rest:https://user:pass@host:8000/", "rest:https://***@host:8000/"],
    ["https://token@host/x", "https://***@host/x"],
    ["sftp://backup@host//srv/restic", "sftp://backup@host//srv/restic"],
    ["sftp://backup:pw@host/srv", "sftp://***@host/srv"],
    ["s3:s3.amazonaws.com/bucket", "s3:s3.amazonaws.com/bucket"],
    ["/srv/restic", "/srv/restic"],
    ["mail me at user@example.com", "mail me at user@example.com"],
    ["https://host/path@not-userinfo", "https://host/path@not-userinfo"],
  ])("%s → %s", (input, output) => {
    expect(redactUrlCredentials(input)).toBe(output);
  });
});
