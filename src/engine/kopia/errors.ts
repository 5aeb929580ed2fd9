import { redactText } from "../../config/secrets.js";
import * as shared from "../errors.js";

export type KopiaErrorKind =
  | "wrong-password"
  | "no-password"
  | "not-connected"
  | "repo-missing"
  | "unreachable"
  | "disk-full"
  | "unsupported"
  | "not-found-binary"
  | "killed"
  | "other";

/** Exit status of snapback for each kind (the contract: 2 bad input, 130 interrupted). */
const EXIT_CODES: Record<KopiaErrorKind, number> = {
  "wrong-password": 2,
  "no-password": 2,
  "not-connected": 2,
  "repo-missing": 2,
  // An outage is transient (1); 2 is for what the user must fix.
  unreachable: 1,
  "disk-full": 1,
  unsupported: 1,
  "not-found-binary": 1,
  killed: 130,
  other: 1,
};

/** A kopia command failed; `kind` says why, the message names the repository by its config name. */
export class KopiaError extends shared.engineErrorClass<KopiaErrorKind>(EXIT_CODES) {}

const UNREACHABLE = shared.unreachablePattern([
  "error connecting to sftp",
  "ssh: handshake failed",
  "unable to connect to",
]);

/**
 * Why a kopia command failed. kopia exits 1 for every error, so the text decides; the
 * phrases are kopia's own (repo.ErrInvalidPassword, App.openRepository, the storage
 * backends' Go network errors).
 */
export function failureKind(input: shared.Outcome): KopiaErrorKind {
  if (input.aborted || input.signal !== null || input.exitCode === 130) return "killed";
  const text = input.stderr.toLowerCase();
  if (text.includes("invalid repository password")) return "wrong-password";
  if (/password prompt error|inappropriate ioctl for device|get password:/.test(text)) {
    return "no-password";
  }
  if (/repository is not connected|not connected to a repository/.test(text)) {
    return "not-connected";
  }
  if (
    /unknown long flag|unknown short flag|unexpected argument|expected command but got/.test(text)
  ) {
    return "unsupported";
  }
  if (/no space left on device|disk quota exceeded/.test(text)) return "disk-full";
  if (UNREACHABLE.test(text)) return "unreachable";
  if (/blob not found|repository not initialized|format blob.*not found/.test(text)) {
    return "repo-missing";
  }
  return "other";
}

export interface FailureInput extends shared.Outcome {
  repoName: string;
  configFile: string;
  /** The kopia command, e.g. "snapshot create", for messages. */
  action: string;
  secrets: readonly string[];
  version?: string | undefined;
}

/** Turns a failed kopia run into a KopiaError a user can act on. */
export function classifyFailure(input: FailureInput): KopiaError {
  const kind = failureKind(input);
  const stderr = redactText(input.stderr, input.secrets);
  const tail = shared.stderrTail(stderr);
  const detail = mainLine(stderr);
  const name = `repository "${input.repoName}"`;
  const key = `repositories.${input.repoName}`;
  const opts = { stderrTail: tail };
  const make = (k: shared.CommonFailureKind, message: string): KopiaError =>
    new KopiaError(k, input.repoName, message, opts);
  switch (kind) {
    case "wrong-password":
      return new KopiaError(
        kind,
        input.repoName,
        `${name}: wrong password (kopia: invalid repository password)`,
        {
          ...opts,
          hint: shared.passwordHint(input.repoName),
        },
      );
    case "no-password":
      return new KopiaError(
        kind,
        input.repoName,
        `${name}: kopia needs the repository password and none was given`,
        {
          ...opts,
          hint: `set ${key}.password_file or password_command`,
        },
      );
    case "not-connected":
      return new KopiaError(
        kind,
        input.repoName,
        notConnectedMessage(input.repoName, input.configFile),
        {
          ...opts,
          hint: connectHint(input.configFile),
        },
      );
    case "repo-missing":
      return new KopiaError(
        kind,
        input.repoName,
        `${name}: no kopia repository where ${input.configFile} points${shared.suffix(detail)}`,
        opts,
      );
    case "unreachable":
      return new KopiaError(
        kind,
        input.repoName,
        `${name} is unreachable${shared.suffix(detail)}`,
        opts,
      );
    case "unsupported":
      return new KopiaError(
        kind,
        input.repoName,
        `kopia${input.version ? ` ${input.version}` : ""} does not understand "kopia ${input.action}" as snapback runs it${shared.suffix(detail)}`,
        { ...opts, hint: "snapback needs kopia 0.12 or newer (snapshot tags)" },
      );
    default:
      return shared.commonFailure(make, kind, "kopia", input, detail);
  }
}

export function notConnectedMessage(repoName: string, configFile: string): string {
  return `repository "${repoName}" is not connected: kopia config file ${configFile} does not exist`;
}

export function connectHint(configFile: string): string {
  return `connect it once: kopia repository connect <storage> ... --config-file=${configFile}`;
}

/** kopia prefixes its chain of wrapped errors; the last link says what happened. */
const WRAPPERS =
  /^(?:open repository: |unable to open repository: |failed to open repository: |unable to create format manager: |upload error: )+/i;

/**
 * The one line that says what went wrong: the last "ERROR ..." line kopia logged (with its
 * optional timestamp), else the last non-empty line.
 */
export function mainLine(stderr: string): string {
  let error: string | undefined;
  let last: string | undefined;
  for (const raw of stderr.split(/\r?\n|\r/)) {
    const line = raw.trim();
    if (!line) continue;
    const m = /^(?:\d\d:\d\d:\d\d(?:\.\d+)?\s+)?ERROR\s+(.*)$/.exec(line);
    if (m?.[1]) error = m[1];
    else last = line;
  }
  return shared.clipLine((error ?? last ?? "").replace(WRAPPERS, ""));
}
