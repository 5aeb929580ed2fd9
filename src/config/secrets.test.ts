import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UsageError } from "../errors.js";
import { repositorySchema, type Repository } from "./schema.js";
import { redactText, resolveSecrets } from "./secrets.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "snapback-secrets-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function secretFile(name: string, text: string, mode = 0o600): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  await chmod(file, mode);
  return file;
}

function restic(extra: Record<string, unknown>): Repository {
  return repositorySchema.parse({ engine: "restic", url: "/srv/restic", ...extra });
}

async function failure(p: Promise<unknown>): Promise<UsageError> {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UsageError);
  expect((err as UsageError).exitCode).toBe(2);
  return err as UsageError;
}

describe("password_file", () => {
  it("uses the first line, without its line ending", async () => {
    const file = await secretFile("pw-crlf", "correct horse\r\nsecond line\n");
    const s = await resolveSecrets("offsite", restic({ password_file: file }));
    expect(s.password).toBe("correct horse");
    expect(s.env).toEqual({});
  });

  it("refuses a file other users can read, naming the key and suggesting chmod 600", async () => {
    const file = await secretFile("pw-shared", "hunter2\n", 0o644);
    const err = await failure(resolveSecrets("offsite", restic({ password_file: file })));
    expect(err.message).toContain(`repositories.offsite.password_file: ${file}`);
    expect(err.message).toContain("readable by other users (mode 644)");
    expect(err.hint).toBe(`run: chmod 600 ${file}`);
    expect(err.message).not.toContain("hunter2");
  });

  it("refuses a group-readable file", async () => {
    const file = await secretFile("pw-group", "hunter2\n", 0o640);
    await failure(resolveSecrets("offsite", restic({ password_file: file })));
  });

  it("names the key when the file is missing", async () => {
    const file = join(dir, "no-such-file");
    const err = await failure(resolveSecrets("offsite", restic({ password_file: file })));
    expect(err.message).toBe(`repositories.offsite.password_file: ${file} does not exist`);
  });

  it("refuses an empty file", async () => {
    const file = await secretFile("pw-empty", "\nsecond\n");
    const err = await failure(resolveSecrets("offsite", restic({ password_file: file })));
    expect(err.message).toContain("repositories.offsite.password_file");
    expect(err.message).toContain("is empty");
  });
});

describe("password_command", () => {
  it("uses the first line of its stdout", async () => {
    const repo = restic({
      password_command: ["sh", "-c", "printf 'from-command\\r\\nline two\\n'"],
    });
    expect((await resolveSecrets("r", repo)).password).toBe("from-command");
  });

  it("reports a failing command with its exit code and stderr, never its stdout", async () => {
    const script = "echo leaked-stdout-secret; echo 'gpg: decryption failed' >&2; exit 3";
    const err = await failure(
      resolveSecrets("r", restic({ password_command: ["sh", "-c", script] })),
    );
    expect(err.message).toContain("repositories.r.password_command: sh exited with code 3");
    expect(err.message).toContain("gpg: decryption failed");
    expect(err.message).not.toContain("leaked-stdout-secret");
    expect(err.cause).toBeUndefined();
  });

  it("masks stdout text that the command repeated on stderr", async () => {
    const script = "echo s3cr3t-value; echo 'cannot use s3cr3t-value' >&2; exit 1";
    const err = await failure(
      resolveSecrets("r", restic({ password_command: ["sh", "-c", script] })),
    );
    expect(err.message).toContain("cannot use ***");
    expect(err.message).not.toContain("s3cr3t-value");
  });

  it("reports a command that does not exist", async () => {
    const repo = restic({ password_command: ["/nonexistent/snapback-pass", "show"] });
    const err = await failure(resolveSecrets("r", repo));
    expect(err.message).toBe(
      "repositories.r.password_command: /nonexistent/snapback-pass was not found",
    );
  });

  it("refuses a command that prints nothing", async () => {
    const err = await failure(resolveSecrets("r", restic({ password_command: ["true"] })));
    expect(err.message).toBe("repositories.r.password_command: true printed no password");
  });
});

describe("env and env_file", () => {
  it("parses KEY=VALUE lines: comments, blank lines, export, quotes, '=' in values", async () => {
    const file = await secretFile(
      "env-good",
      [
        "# credentials",
        "",
        "AWS_ACCESS_KEY_ID=AKIAEXAMPLE",
        "export AWS_SECRET_ACCESS_KEY = 'wJalr/K7MDENG+bPxRfi'",
        'RESTIC_PASSWORD="pass word"',
        "B2_ACCOUNT_KEY=abc=def==",
        "EMPTY=",
        "   INDENTED=yes   ",
      ].join("\n"),
    );
    const s = await resolveSecrets("cloud", restic({ env_file: file }));
    expect(s.env).toEqual({
      AWS_ACCESS_KEY_ID: "AKIAEXAMPLE",
      AWS_SECRET_ACCESS_KEY: "wJalr/K7MDENG+bPxRfi",
      RESTIC_PASSWORD: "pass word",
      B2_ACCOUNT_KEY: "abc=def==",
      EMPTY: "",
      INDENTED: "yes",
    });
    expect(s.password).toBeUndefined();
  });

  it("lets env from the config override env_file", async () => {
    const file = await secretFile("env-override", "A=from-file\nB=from-file\n");
    const s = await resolveSecrets(
      "r",
      restic({ env_file: file, env: { B: "from-config" }, password_file: file }),
    );
    expect(s.env).toEqual({ A: "from-file", B: "from-config" });
  });

  it("names the line of a malformed env_file without echoing it", async () => {
    const file = await secretFile("env-bad", "A=1\nthis is the-secret-line\n");
    const err = await failure(resolveSecrets("r", restic({ env_file: file })));
    expect(err.message).toBe(`repositories.r.env_file: ${file} line 2 is not KEY=VALUE`);
  });

  it("refuses an env_file other users can read", async () => {
    const file = await secretFile("env-shared", "A=1\n", 0o604);
    const err = await failure(resolveSecrets("r", restic({ env_file: file })));
    expect(err.message).toContain("repositories.r.env_file");
    expect(err.hint).toBe(`run: chmod 600 ${file}`);
  });

  it("names the key when env_file is missing", async () => {
    const file = join(dir, "missing.env");
    const err = await failure(resolveSecrets("r", restic({ env_file: file })));
    expect(err.message).toBe(`repositories.r.env_file: ${file} does not exist`);
  });

  it("resolves a repository without secrets to nothing", async () => {
    const repo = repositorySchema.parse({ engine: "btrfs", path: "/mnt/backup" });
    expect(await resolveSecrets("b", repo)).toEqual({ password: undefined, env: {} });
  });
});

describe("redactText", () => {
  it("replaces every occurrence of every secret of 3+ characters", () => {
    expect(redactText("pw=hunter2 again hunter2 key=ab", ["hunter2", "ab"])).toBe(
      "pw=*** again *** key=ab",
    );
  });
});
