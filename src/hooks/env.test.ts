import { describe, expect, it } from "vitest";
import { registerSecret } from "../log.js";
import { hookEnvironment, type HookEnvInput } from "./env.js";

const base: HookEnvInput = {
  plan: "home",
  when: "finally",
  hookName: "notify",
  facts: {
    runId: "20260101T000000Z-abcd",
    sources: ["/home", "/var/lib/a:b"],
    repositories: ["offsite", "local"],
    status: "partial",
    summaries: [
      {
        repository: "offsite",
        snapshot_id: "aaa111",
        files_new: 3,
        files_changed: 1,
        files_unmodified: 10,
        data_added: 2048,
        error_count: 1,
      },
      {
        repository: "local",
        snapshot_id: "bbb222",
        files_new: 4,
        files_changed: 0,
        files_unmodified: 9,
        data_added: 100,
      },
    ],
  },
  base: { PATH: "/usr/bin:/bin", HOME: "/root" },
  secretValues: [],
};

describe("hookEnvironment", () => {
  it("describes the run", () => {
    const env = hookEnvironment(base);
    expect(env).toMatchObject({
      PATH: "/usr/bin:/bin",
      HOME: "/root",
      SNAPBACK_PLAN: "home",
      SNAPBACK_RUN_ID: "20260101T000000Z-abcd",
      SNAPBACK_HOOK: "finally",
      SNAPBACK_HOOK_NAME: "notify",
      SNAPBACK_SOURCES: "/home\n/var/lib/a:b",
      SNAPBACK_REPOSITORIES: "offsite,local",
      SNAPBACK_STATUS: "partial",
      SNAPBACK_SNAPSHOT_IDS: "offsite=aaa111,local=bbb222",
      SNAPBACK_FILES_NEW: "7",
      SNAPBACK_FILES_CHANGED: "1",
      SNAPBACK_FILES_UNMODIFIED: "19",
      SNAPBACK_DATA_ADDED: "2148",
      SNAPBACK_ERROR_COUNT: "1",
    });
    expect(env["SNAPBACK_ERROR"]).toBeUndefined();
    expect(JSON.parse(env["SNAPBACK_RESULT_JSON"] ?? "")).toEqual({
      plan: "home",
      run_id: "20260101T000000Z-abcd",
      hook: "finally",
      status: "partial",
      sources: ["/home", "/var/lib/a:b"],
      repositories: ["offsite", "local"],
      snapshot_ids: { offsite: "aaa111", local: "bbb222" },
      totals: {
        files_new: 7,
        files_changed: 1,
        files_unmodified: 19,
        data_added: 2148,
        error_count: 1,
      },
      results: [
        {
          repository: "offsite",
          snapshot_id: "aaa111",
          files_new: 3,
          files_changed: 1,
          files_unmodified: 10,
          data_added: 2048,
          error_count: 1,
        },
        {
          repository: "local",
          snapshot_id: "bbb222",
          files_new: 4,
          files_changed: 0,
          files_unmodified: 9,
          data_added: 100,
        },
      ],
    });
  });

  it("tells the status only when the outcome is what the hook is about", () => {
    const env = hookEnvironment({
      ...base,
      when: "after_snapshot",
      facts: { runId: "r", sources: ["/a"], status: "failed" },
    });
    expect(env["SNAPBACK_STATUS"]).toBeUndefined();
    expect(env["SNAPBACK_SNAPSHOT_IDS"]).toBeUndefined();
    expect(env["SNAPBACK_FILES_NEW"]).toBeUndefined();
    expect(JSON.parse(env["SNAPBACK_RESULT_JSON"] ?? "")).toEqual({
      plan: "home",
      run_id: "r",
      hook: "after_snapshot",
      sources: ["/a"],
      snapshot_ids: {},
      results: [],
    });
  });

  it("never passes a secret, however it got into snapback's environment", () => {
    registerSecret("registered-secret-value");
    const env = hookEnvironment({
      ...base,
      facts: {
        ...base.facts,
        status: "failed",
        error: "repo offsite: AKIA-secret-key rejected; registered-secret-value",
      },
      base: {
        PATH: "/bin",
        RESTIC_PASSWORD: "pw",
        RESTIC_PASSWORD_COMMAND: "cat /x",
        KOPIA_PASSWORD: "kpw",
        AWS_SECRET_ACCESS_KEY: "AKIA-secret-key",
        SOMETHING: "prefix registered-secret-value suffix",
        SNAPBACK_STATUS: "stale",
        SNAPBACK_CONFIG: "/etc/other.toml",
        KEEP: "x marks the spot",
      },
      secretValues: ["AKIA-secret-key", "x"],
    });
    for (const name of [
      "RESTIC_PASSWORD",
      "RESTIC_PASSWORD_COMMAND",
      "KOPIA_PASSWORD",
      "AWS_SECRET_ACCESS_KEY",
      "SOMETHING",
      "SNAPBACK_CONFIG",
    ]) {
      expect(env[name], name).toBeUndefined();
    }
    expect(env["KEEP"]).toBe("x marks the spot");
    expect(env["SNAPBACK_STATUS"]).toBe("failed");
    expect(env["SNAPBACK_ERROR"]).toBe("repo offsite: *** rejected; ***");
    const all = JSON.stringify(env);
    expect(all).not.toContain("AKIA-secret-key");
    expect(all).not.toContain("registered-secret-value");
  });

  it("supplies a PATH when snapback has none", () => {
    expect(hookEnvironment({ ...base, base: {} })["PATH"]).toMatch(/\/usr\/bin/);
  });
});
