import { GLOBAL_OPTIONS } from "../args.js";
import type { Command, OptionDef } from "../command.js";
import { ENVIRONMENT, EXIT_CODES, VERSION, visible } from "./help.js";

/**
 * Text for roff: backslashes and hyphens escaped (a bare `-` may be typeset as a hyphen and
 * break copy and paste of options), and a leading `.` or `'` kept from starting a request.
 */
export function roff(text: string): string {
  const escaped = text.replace(/\\/g, "\\e").replace(/-/g, "\\-");
  return /^[.']/.test(escaped) ? `\\&${escaped}` : escaped;
}

function optionHead(name: string, o: OptionDef): string {
  const short = o.short ? `\\fB\\-${o.short}\\fR, ` : "";
  const long = `\\fB${roff(`--${name}`)}\\fR`;
  const value = o.type === "string" ? ` \\fI${roff(o.value ?? "VALUE")}\\fR` : "";
  return `${short}${long}${value}${o.multiple ? " ..." : ""}`;
}

/** snapback(1), from the same command definitions as `--help`. */
export function manPage(commands: readonly Command[], date = ""): string {
  const out: string[] = [
    `.TH SNAPBACK 1 "${date}" "snapback ${VERSION}" "User Commands"`,
    // Paths and option names must not be hyphenated across lines.
    ".nh",
    ".SH NAME",
    "snapback \\- point\\-in\\-time backups: filesystem snapshots shown to restic at the original paths",
    ".SH SYNOPSIS",
    ".B snapback",
    `[\\fB\\-\\-config\\fR \\fIFILE\\fR] [\\fB\\-\\-json\\fR] [\\fB\\-\\-verbose\\fR|\\fB\\-\\-quiet\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]`,
    ".br",
    ".B snapback",
    "\\fICOMMAND\\fR \\fB\\-\\-help\\fR",
    ".br",
    ".B snapback",
    "\\fB\\-\\-version\\fR",
    ".SH DESCRIPTION",
    roff(
      "snapback is a backup orchestrator for Linux. For every plan it takes read-only snapshots of the sources (btrfs subvolumes, ZFS datasets; plain directories as a non-atomic fallback), shows them to the backup engine at the sources' original paths in a private mount namespace, runs the engine (restic, kopia, or btrfs/zfs send-receive replication), then removes the snapshots, applies retention, checks and reports. Everything it creates it also removes, including after a crash.",
    ),
    ".SH GLOBAL OPTIONS",
  ];
  for (const [name, o] of Object.entries(GLOBAL_OPTIONS))
    out.push(".TP", optionHead(name, o), roff(o.description));
  out.push(".TP", "\\fB\\-V\\fR, \\fB\\-\\-version\\fR", "print the version and exit");
  out.push(".SH COMMANDS");
  for (const c of visible(commands)) {
    out.push(`.SS ${roff(c.name)}`);
    for (const s of c.synopsis) out.push(".nf", `\\fBsnapback\\fR ${roff(s)}`, ".fi");
    out.push(".PP", roff(`${c.summary[0]?.toUpperCase() ?? ""}${c.summary.slice(1)}.`));
    for (const p of c.description) out.push(".PP", roff(p));
    for (const p of c.positionals)
      out.push(".TP", `\\fI${roff(p.name)}\\fR${p.variadic ? " ..." : ""}`, roff(p.description));
    for (const [name, o] of Object.entries(c.options))
      out.push(".TP", optionHead(name, o), roff(o.description));
    if (c.examples.length > 0) {
      out.push(".PP", "Examples:");
      for (const e of c.examples)
        out.push(".PP", ".RS 4", ".nf", `\\fB${roff(e.command)}\\fR`, ".fi", roff(e.description), ".RE");
    }
  }
  out.push(".SH ENVIRONMENT");
  for (const e of ENVIRONMENT) out.push(".TP", `\\fB${roff(e.name)}\\fR`, roff(e.description));
  out.push(".SH EXIT STATUS");
  for (const e of EXIT_CODES) out.push(".TP", `\\fB${e.code}\\fR`, roff(e.meaning));
  out.push(
    ".SH FILES",
    ".TP",
    "\\fI/etc/snapback/snapback.toml\\fR",
    roff("the default config file; files that name secrets must not be readable by other users"),
    ".TP",
    "\\fI/var/lib/snapback\\fR",
    roff("the default state_dir: journals, locks, run history, engine caches"),
    ".SH SEE ALSO",
    "\\fBrestic\\fR(1), \\fBbtrfs\\fR(8), \\fBzfs\\fR(8), \\fBsystemd.timer\\fR(5)",
    "",
  );
  return out.join("\n");
}

