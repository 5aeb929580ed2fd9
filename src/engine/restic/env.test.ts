import { describe, expect, it } from "vitest";
import type { ResticBinary } from "./binary.js";
import { displayUrl, resticEnv, secretValues } from "./env.js";

function binary(features: string[]): ResticBinary {
  return {
    path: "/usr/bin/restic",
    version: "0.17.3",
    semver: { major: 0, minor: 17, patch: 3, text: "restic 0.17.3" },
    features: new Set(features),
  };
}

describe("resticEnv", () => {
  const secrets = { password: "pw-123", env: { AWS_ACCESS_KEY_ID: "AKIA1" } };

  it("puts repository, password, cache and the repository env in the environment", () => {
    const env = resticEnv({
      url: "rest:https://u:p@nas/",
      secrets,
      binary: binary([]),
      cacheDir: "/var/lib/snapback/cache/restic",
      progressFps: 2,
    });
    expect(env).toMatchObject({
      RESTIC_REPOSITORY: "rest:https://u:p@nas/",
      RESTIC_PASSWORD: "pw-123",
      RESTIC_CACHE_DIR: "/var/lib/snapback/cache/restic",
      RESTIC_PROGRESS_FPS: "2",
      AWS_ACCESS_KEY_ID: "AKIA1",
      // Inherited settings that would pick another repository or password are blanked.
      RESTIC_PASSWORD_FILE: "",
      RESTIC_PASSWORD_COMMAND: "",
      RESTIC_REPOSITORY_FILE: "",
      RESTIC_HOST: "",
    });
  });

  it("sets device-id-for-hardlinks only when restic lists it", () => {
    expect(resticEnv({ url: "/r", secrets, binary: binary([]) })["RESTIC_FEATURES"]).toBe("");
    expect(
      resticEnv({ url: "/r", secrets, binary: binary(["device-id-for-hardlinks"]) })[
        "RESTIC_FEATURES"
      ],
    ).toBe("device-id-for-hardlinks");
    const user = { password: "x", env: { RESTIC_FEATURES: "backend-error-redesign=false" } };
    expect(
      resticEnv({ url: "/r", secrets: user, binary: binary(["device-id-for-hardlinks"]) })[
        "RESTIC_FEATURES"
      ],
    ).toBe("backend-error-redesign=false,device-id-for-hardlinks");
    const off = { password: "x", env: { RESTIC_FEATURES: "device-id-for-hardlinks=false" } };
    expect(
      resticEnv({ url: "/r", secrets: off, binary: binary(["device-id-for-hardlinks"]) })[
        "RESTIC_FEATURES"
      ],
    ).toBe("device-id-for-hardlinks=false");
  });

  it("lets the repository env supply the password file and the view move the cache", () => {
    const env = resticEnv({
      url: "/r",
      secrets: { password: undefined, env: { RESTIC_PASSWORD_FILE: "/etc/pw" } },
      binary: binary([]),
      cacheDir: "/a",
      extra: { RESTIC_CACHE_DIR: "/b", TMPDIR: "/t" },
    });
    expect(env["RESTIC_PASSWORD_FILE"]).toBe("/etc/pw");
    expect(env["RESTIC_PASSWORD"]).toBe("");
    expect(env["RESTIC_CACHE_DIR"]).toBe("/b");
    expect(env["TMPDIR"]).toBe("/t");
  });
});

describe("displayUrl / secretValues", () => {
  it("strips user:password@ but keeps plain users and paths", () => {
    expect(displayUrl("rest:https://user:hunter22@nas:8000/repo/")).toBe(
      "rest:https://nas:8000/repo/",
    );
    expect(displayUrl("sftp:backup@nas:/srv/restic")).toBe("sftp:backup@nas:/srv/restic");
    expect(displayUrl("/srv/restic")).toBe("/srv/restic");
    expect(displayUrl("s3:https://s3.example.com/bucket")).toBe("s3:https://s3.example.com/bucket");
  });

  it("lists the password, env values and URL credentials (decoded too)", () => {
    const values = secretValues("rest:https://user:p%40ss@nas/", {
      password: "pw",
      env: { K: "v1" },
    });
    expect(values).toEqual(expect.arrayContaining(["pw", "v1", "user:p%40ss", "p%40ss", "p@ss"]));
  });
});
