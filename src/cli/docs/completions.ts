import { GLOBAL_OPTIONS } from "../args.js";
import type { Command, Completion, OptionDef, PositionalDef } from "../command.js";
import { visible } from "./help.js";

/*
 * Shell completions generated from the command definitions. Commands and flags are fixed when
 * the script is generated; plan and repository names are read from the config at completion
 * time through the hidden `snapback __complete plans|repositories` (with the --config the
 * command line already has), so they follow the config without regenerating anything.
 */

type Options = Readonly<Record<string, OptionDef>>;

const globalOptions: Options = GLOBAL_OPTIONS;

function allOptions(c: Command): [string, OptionDef][] {
  return [...Object.entries(c.options), ...Object.entries(globalOptions)];
}

function sq(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

// ---------------------------------------------------------------------------------------- bash

function bashWords(kind: Completion | undefined, commands: readonly Command[]): string {
  if (kind === undefined) return "";
  if (kind === "plan") return '$(_snapback_names plans)';
  if (kind === "repository") return '$(_snapback_names repositories "$first")';
  if (kind === "command") return visible(commands).map((c) => c.name).join(" ");
  if (kind === "file" || kind === "dir") return "";
  return kind.join(" ");
}

function bashCompgen(kind: Completion | undefined, commands: readonly Command[]): string {
  if (kind === "file") return 'COMPREPLY=($(compgen -f -- "$cur"))';
  if (kind === "dir") return 'COMPREPLY=($(compgen -d -- "$cur"))';
  return `COMPREPLY=($(compgen -W "${bashWords(kind, commands)}" -- "$cur"))`;
}

function bashPositional(ps: readonly PositionalDef[], commands: readonly Command[]): string[] {
  const lines = ['        case "$npos" in'];
  ps.forEach((p, i) => {
    const last = i === ps.length - 1;
    lines.push(`          ${last && p.variadic ? "*" : String(i)}) ${bashCompgen(p.complete, commands)} ;;`);
  });
  lines.push("        esac");
  return lines;
}

export function bashCompletion(commands: readonly Command[]): string {
  const names = visible(commands).map((c) => c.name);
  const out = [
    "# bash completion for snapback (generated from its command definitions)",
    "_snapback_names() {",
    '  "${COMP_WORDS[0]}" "${_snapback_cfg[@]}" __complete "$@" 2>/dev/null',
    "}",
    "",
    "_snapback() {",
    '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="" cmd="" first="" npos=0 i w',
    "  local -a _snapback_cfg=()",
    '  (( COMP_CWORD > 0 )) && prev="${COMP_WORDS[COMP_CWORD-1]}"',
    "  COMPREPLY=()",
    "  for ((i = 1; i < COMP_CWORD; i++)); do",
    '    w="${COMP_WORDS[i]}"',
    '    if [[ "$w" == --config ]]; then _snapback_cfg=(--config "${COMP_WORDS[i+1]}"); ((i++)); continue; fi',
    '    if [[ -z "$cmd" ]]; then [[ "$w" != -* ]] && cmd="$w"; continue; fi',
    '    [[ "$w" == -- ]] && { npos=1000; continue; }',
    '    if [[ "$w" == -* ]]; then',
    '      case "$cmd $w" in',
  ];
  // An option that takes a value swallows the next word: it is not a positional.
  const valued = new Set<string>();
  for (const c of visible(commands))
    for (const [n, o] of Object.entries(c.options)) if (o.type === "string") valued.add(`"${c.name} --${n}"`);
  if (valued.size > 0) out.push(`        ${[...valued].join("|")}) ((i++)) ;;`);
  out.push(
    "      esac",
    "      continue",
    "    fi",
    '    (( npos == 0 )) && first="$w"',
    "    ((npos++))",
    "  done",
    '  if [[ "$prev" == --config ]]; then COMPREPLY=($(compgen -f -- "$cur")); return; fi',
    '  if [[ -z "$cmd" ]]; then',
    '    if [[ "$cur" == -* ]]; then',
    `      COMPREPLY=($(compgen -W "${Object.keys(globalOptions)
      .map((n) => `--${n}`)
      .join(" ")} -V --version" -- "$cur"))`,
    "    else",
    `      COMPREPLY=($(compgen -W "${names.join(" ")}" -- "$cur"))`,
    "    fi",
    "    return",
    "  fi",
    '  case "$cmd" in',
  );
  for (const c of visible(commands)) {
    out.push(`    ${c.name})`);
    out.push('      case "$prev" in');
    for (const [n, o] of Object.entries(c.options))
      if (o.type === "string") out.push(`        --${n}) ${bashCompgen(o.complete, commands)}; return ;;`);
    out.push("      esac");
    out.push('      if [[ "$cur" == -* ]]; then');
    out.push(
      `        COMPREPLY=($(compgen -W "${allOptions(c)
        .map(([n]) => `--${n}`)
        .join(" ")}" -- "$cur"))`,
    );
    if (c.positionals.length > 0) {
      out.push("      else");
      out.push(...bashPositional(c.positionals, commands));
    }
    out.push("      fi", "      ;;");
  }
  out.push("  esac", "}", "complete -F _snapback snapback", "");
  return out.join("\n");
}

// ----------------------------------------------------------------------------------------- zsh

/** A description inside a zsh `_arguments` spec: brackets and colons are syntax there. */
function zshDescription(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/([[\]:])/g, "\\$1");
}

function zshAction(kind: Completion | undefined, commands: readonly Command[]): string {
  if (kind === undefined) return " ";
  if (kind === "plan") return "_snapback_plans";
  if (kind === "repository") return "_snapback_repositories";
  if (kind === "file") return "_files";
  if (kind === "dir") return "_files -/";
  if (kind === "command") return `(${visible(commands).map((c) => c.name).join(" ")})`;
  return `(${kind.join(" ")})`;
}

function zshOption(name: string, o: OptionDef, commands: readonly Command[]): string {
  const repeat = o.multiple ? "*" : "";
  const value =
    o.type === "string"
      ? `:${zshDescription(o.value ?? "value")}:${zshAction(o.complete, commands)}`
      : "";
  const spec = `[${zshDescription(o.description)}]${value}`;
  // `{-v,--verbose}'[…]'` is brace-expanded by zsh into one spec per spelling.
  return o.short
    ? `${repeat ? "'*'" : ""}{-${o.short},--${name}}${sq(spec)}`
    : sq(`${repeat}--${name}${spec}`);
}

function zshPositional(p: PositionalDef, i: number, commands: readonly Command[]): string {
  const where = p.variadic ? "*" : String(i + 1);
  const optional = p.optional && !p.variadic ? ":" : "";
  return sq(`${where}:${optional}${zshDescription(p.name.toLowerCase())}:${zshAction(p.complete, commands)}`);
}

export function zshCompletion(commands: readonly Command[]): string {
  const out = [
    "#compdef snapback",
    "# zsh completion for snapback (generated from its command definitions)",
    "",
    "# _snapback_cfg is set by _snapback before _arguments shifts the global options away.",
    "_snapback_plans() {",
    "  local -a plans",
    '  plans=(${(f)"$(snapback $_snapback_cfg __complete plans 2>/dev/null)"})',
    "  _describe -t plans plan plans",
    "}",
    "_snapback_repositories() {",
    "  local -a repos",
    '  repos=(${(f)"$(snapback $_snapback_cfg __complete repositories 2>/dev/null)"})',
    "  _describe -t repositories repository repos",
    "}",
    "",
    "_snapback() {",
    "  local curcontext=$curcontext state line ret=1",
    "  local -a _snapback_cfg",
    "  local i=${words[(I)--config]}",
    "  (( i > 0 )) && _snapback_cfg=(--config ${words[i+1]})",
    "  typeset -A opt_args",
    "  _arguments -C \\",
  ];
  for (const [n, o] of Object.entries(globalOptions)) out.push(`    ${zshOption(n, o, commands)} \\`);
  out.push(
    `    '(- *)'{-V,--version}'[print the version and exit]' \\`,
    "    '1:command:->command' \\",
    "    '*::argument:->argument' && ret=0",
    "  case $state in",
    "    command)",
    "      local -a cmds",
    "      cmds=(",
  );
  for (const c of visible(commands)) out.push(`        ${sq(`${c.name}:${c.summary.replace(/\\/g, "\\\\")}`)}`);
  out.push("      )", "      _describe -t commands command cmds && ret=0", "      ;;", "    argument)");
  out.push("      case $words[1] in");
  for (const c of visible(commands)) {
    const specs = [
      ...allOptions(c).map(([n, o]) => zshOption(n, o, commands)),
      ...c.positionals.map((p, i) => zshPositional(p, i, commands)),
    ];
    out.push(`        ${c.name})`);
    out.push(`          _arguments ${specs.join(" \\\n            ")} && ret=0`);
    out.push("          ;;");
  }
  out.push("      esac", "      ;;", "  esac", "  return ret", "}", "", '_snapback "$@"', "");
  return out.join("\n");
}

// ---------------------------------------------------------------------------------------- fish

function fishQuote(text: string): string {
  return `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

function fishArgs(kind: Completion | undefined, commands: readonly Command[]): string {
  if (kind === undefined) return "";
  if (kind === "plan") return " -a '(__snapback_names plans)'";
  if (kind === "repository") return " -a '(__snapback_names repositories)'";
  if (kind === "file") return " -F";
  if (kind === "dir") return " -a '(__fish_complete_directories)'";
  if (kind === "command") return ` -a ${fishQuote(visible(commands).map((c) => c.name).join(" "))}`;
  return ` -a ${fishQuote(kind.join(" "))}`;
}

function fishOption(prefix: string, name: string, o: OptionDef, commands: readonly Command[]): string {
  const short = o.short ? ` -s ${o.short}` : "";
  const value = o.type === "string" ? ` -r${fishArgs(o.complete, commands)}` : "";
  return `${prefix}${short} -l ${name}${value} -d ${fishQuote(o.description)}`;
}

export function fishCompletion(commands: readonly Command[]): string {
  const out = [
    "# fish completion for snapback (generated from its command definitions)",
    "function __snapback_names",
    "    set -l tokens (commandline -opc)",
    "    set -l config",
    "    if set -l i (contains -i -- --config $tokens)",
    "        set config --config $tokens[(math $i + 1)]",
    "    end",
    "    snapback $config __complete $argv 2>/dev/null",
    "end",
    "",
    "complete -c snapback -f",
  ];
  for (const [n, o] of Object.entries(globalOptions)) out.push(fishOption("complete -c snapback", n, o, commands));
  out.push("complete -c snapback -s V -l version -d 'print the version and exit'");
  for (const c of visible(commands))
    out.push(
      `complete -c snapback -n __fish_use_subcommand -a ${c.name} -d ${fishQuote(c.summary)}`,
    );
  for (const c of visible(commands)) {
    const cond = `complete -c snapback -n ${fishQuote(`__fish_seen_subcommand_from ${c.name}`)}`;
    for (const [n, o] of Object.entries(c.options)) out.push(fishOption(cond, n, o, commands));
    // fish cannot tell positionals apart by place: offer what any of them can be.
    for (const p of c.positionals) {
      const args = fishArgs(p.complete, commands);
      if (args) out.push(`${cond}${args} -d ${fishQuote(p.name.toLowerCase())}`);
    }
  }
  out.push("");
  return out.join("\n");
}
