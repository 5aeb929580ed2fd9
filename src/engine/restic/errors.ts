import { redactText } from "../../config/secrets.js";
import * as shared from "../errors.js";
import { parseBackupLine, stripEscapes } from "./messages.js";

export type ResticErrorKind =
  | "wrong-password"
  | "repo-missing"
  | "unreachable"
  | "locked"
  | "disk-full"
  | "not-found-binary"
  | "killed"
  | "other";

/**
 * Exit status of snapback for each kind (see the contract): 2 for what the user must fix (wrong
 * password, missing repository), 4 locked, 130 interrupted. An unreachable repository is a
 * transient outage (1), so monitoring can tell it from a config error; credentials the server
 * refuses are the user's to fix (2, set in classifyFailure).
 */
const EXIT_CODES: Record<ResticErrorKind, number> = {
  "wrong-password": 2,
  "repo-missing": 2,
  unreachable: 1,
  locked: 4,
  "disk-full": 1,
  "not-found-binary": 1,
  killed: 130,
  other: 1,
};

/** A restic command failed; `kind` says why, the message names the repository by its config name. */
export class ResticError extends shared.engineErrorClass<ResticErrorKind>(EXIT_CODES) {}

/**
 * Why a restic command failed. restic >= 0.17 says it with exit codes (10 no repository,
 * 11 lock failed, 12 wrong password since 0.17.1); 0.14 exits 1 for all of them, so its
 * stderr text decides. Network errors come before "no repository": 0.14 prints
 * "Is there a repository at the following location?" after a refused connection too.
 */
export function failureKind(input: shared.Outcome): ResticErrorKind {
  const { exitCode, stderr } = input;
  if (input.aborted || input.signal !== null || exitCode === 130) return "killed";
  if (exitCode === 12) return "wrong-password";
  if (exitCode === 11) return "locked";
  if (exitCode === 10) return "repo-missing";
  const text = stderr.toLowerCase();
  if (/wrong password|no key found|ciphertext verification failed/.test(text))
    return "wrong-password";
  if (/already locked|unable to create lock|failed to lock|repository is locked/.test(text)) {
    return "locked";
  }
  if (/no space left on device|disk quota exceeded|not enough space/.test(text)) return "disk-full";
  if (UNREACHABLE.test(text)) return "unreachable";
  if (
    /is there a repository at the following location\?|repository does not exist|unable to open config file.*(no such file|not found|does not exist)|specified bucket does not exist|nosuchbucket/.test(
      text,
    )
  ) {
    return "repo-missing";
  }
  return "other";
}

const UNREACHABLE = shared.unreachablePattern([
  "context deadline exceeded",
  "ssh: connect to host",
  "ssh: could not resolve",
  "unable to start the sftp session",
  "permission denied \\(publickey",
  "host key verification failed",
  // A REST server or S3 endpoint refusing the URL's credentials: reached, but not usable.
  "unexpected http response \\(40[13]\\)",
]);

/**
 * Reached, but the server refused who we are: the user must fix the key or credentials, it
 * will not go away by itself (exit 2, not the outage's 1).
 */
const AUTH_REFUSED =
  /permission denied \(publickey|host key verification failed|unexpected http response \(40[13]\)/;

export interface FailureInput extends shared.Outcome {
  repoName: string;
  /** Already stripped of credentials (displayUrl). */
  url: string;
  /** The restic command, e.g. "backup", for messages. */
  action: string;
  secrets: readonly string[];
  cause?: unknown;
}

/** Turns a failed restic run into a ResticError with a message a user can act on. */
export function classifyFailure(input: FailureInput): ResticError {
  const kind = failureKind(input);
  const stderr = redactText(stripEscapes(input.stderr), input.secrets);
  const tail = shared.stderrTail(stderr);
  const detail = mainLine(stderr);
  const name = `repository "${input.repoName}"`;
  const opts = { stderrTail: tail, cause: input.cause };
  const make = (k: shared.CommonFailureKind, message: string): ResticError =>
    new ResticError(k, input.repoName, message, opts);
  switch (kind) {
    case "wrong-password":
      return new ResticError(kind, input.repoName, `${name}: wrong password`, {
        ...opts,
        hint: shared.passwordHint(input.repoName),
      });
    case "repo-missing":
      return new ResticError(kind, input.repoName, repoMissingMessage(input.repoName, input.url), {
        ...opts,
      });
    case "unreachable": {
      // With sftp, restic's own line is "unable to start the sftp session, error: EOF"; the
      // reason is what ssh said ("Connection refused", "Permission denied (publickey)").
      const why = sshComplaint(stderr) ?? detail;
      return new ResticError(
        kind,
        input.repoName,
        `${name} at ${input.url} is unreachable${shared.suffix(why)}`,
        AUTH_REFUSED.test(stderr.toLowerCase()) ? { ...opts, exitCode: 2 } : opts,
      );
    }
    case "locked": {
      const holder = lockHolderFromStderr(stderr);
      return new ResticError(
        kind,
        input.repoName,
        holder
          ? `${name} is locked by another restic process: ${holder}`
          : `${name} is locked by another restic process${shared.suffix(detail)}`,
        {
          ...opts,
          hint: `wait for it to finish; if none is running, remove the stale lock with: snapback unlock --repository ${input.repoName}`,
        },
      );
    }
    case "killed":
      // Stopped by snapback (SIGINT on an interrupt) is an interruption; killed by anyone
      // else (the OOM killer, an admin) is a failure of this repository's backup.
      if (!input.aborted && input.signal !== null) {
        return new ResticError(
          kind,
          input.repoName,
          `restic ${input.action} for ${name} was killed by ${input.signal}`,
          { ...opts, exitCode: 1 },
        );
      }
      return shared.commonFailure(make, kind, "restic", input, detail);
    default:
      return shared.commonFailure(make, kind, "restic", input, detail);
  }
}

/** `parse()` of a command's output; output that does not parse fails naming the command. */
export function parsedOutput<T>(repoName: string, action: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    throw new ResticError(
      "other",
      repoName,
      `restic ${action} for repository "${repoName}" printed no valid JSON`,
      { cause: e },
    );
  }
}

/**
 * The lock holder restic names when it cannot lock: "repository is already locked
 * exclusively by PID 42 on nas by root (UID 0, GID 0)" and "lock was created at
 * 2024-01-01 10:00:00 (1m ago)" → "pid 42 on host nas (user root), since 2024-01-01 10:00:00".
 */
export function lockHolderFromStderr(stderr: string): string | undefined {
  const m = /already locked(?: exclusively)? by PID (\d+) on (\S+) by (\S+)/.exec(stderr);
  if (!m) return undefined;
  const since = /lock was created at ([^(\n]+?)\s*(?:\(|$)/m.exec(stderr)?.[1];
  return `pid ${m[1] ?? "?"} on host ${m[2] ?? "?"} (user ${m[3] ?? "?"})${since ? `, since ${since}` : ""}`;
}

/** The last thing restic's ssh subprocess complained about, warnings aside. */
function sshComplaint(stderr: string): string | undefined {
  const lines = [...stderr.matchAll(/^subprocess ssh: (.+)$/gm)]
    .map((m) => (m[1] ?? "").trim())
    .filter((l) => l && !/^warning:/i.test(l));
  return lines.at(-1);
}

export function repoMissingMessage(repoName: string, url: string): string {
  return `repository "${repoName}" does not exist at ${url} (set init = true to create it)`;
}

/**
 * The one line that says what went wrong: restic 0.17+'s exit_error message, else the last
 * "Fatal:" line, else the last plain line.
 */
function mainLine(stderr: string): string {
  let exitError: string | undefined;
  let fatal: string | undefined;
  let last: string | undefined;
  for (const line of stderr.split("\n")) {
    const msg = parseBackupLine(line);
    if (msg?.type === "exit_error" && msg.message) exitError = msg.message;
    if (msg?.type !== "log") continue;
    if (/^Fatal:/.test(msg.line)) fatal = msg.line.replace(/^Fatal:\s*/, "");
    else if (!/^(Is there a repository|signal interrupt|Warning:)/i.test(msg.line)) last = msg.line;
  }
  return shared.clipLine(exitError ?? fatal ?? last ?? "");
}
