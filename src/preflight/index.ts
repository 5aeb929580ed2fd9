import { access, constants, stat } from "node:fs/promises";
import { dirname } from "node:path";
import type { Config } from "../config/schema.js";
import { resolveSecrets } from "../config/secrets.js";
import { readPasswordFile } from "../databases/secrets.js";
import { openEngine } from "../engine/open.js";
import { probeRestic } from "../engine/restic/index.js";
import { ResticError } from "../engine/restic/errors.js";
import { errorMessage, SnapbackError } from "../errors.js";
import { which } from "../exec/index.js";
import { registerSecret } from "../log.js";
import { planRun } from "../run/plan.js";
import { zfsCapabilities } from "../snapshot/zfs/index.js";
import { transportFindings } from "./transport.js";

/**
 * One thing checked on this machine. `doctor` and `config validate --deep` print these.
 * A failed `required` check means a run would fail because of it; the others only warn.
 */
export interface Finding {
  /** The config key or the tool checked. */
  name: string;
  ok: boolean;
  required: boolean;
  detail: string;
  fix?: string;
  /** What a run would exit with because of this failure: 2 the user must fix it, 1 transient. */
  exitCode?: number;
  /** Debian packages that fix this failure (`doctor` ends with one apt-get line for all). */
  packages?: string[];
}

/**
 * What a schema cannot know: whether the config can run on THIS machine. Sources exist and
 * are snapshot-able as configured, password files exist and are private, every repository is
 * reachable and opens with its password (without creating it), hook commands and database
 * clients are on PATH, database password files are private, the metrics directory exists,
 * and the tools the plans need are installed. Reads only; the one
 * write is restic's cache below state_dir, as any `snapshots` would make.
 */
export async function checkConfigHere(config: Config): Promise<Finding[]> {
  const findings: Finding[] = [];
  const kinds = new Set<string>();

  for (const [name, plan] of Object.entries(config.plans)) {
    const key = `plans.${name}.sources`;
    try {
      const p = await planRun(config, name, "preflight");
      for (const s of p.sources) kinds.add(s.kind);
      findings.push({
        name: key,
        ok: true,
        required: true,
        detail: p.sources.map((s) => `${s.path} (${s.kind})`).join(", ") || "none",
      });
      for (const w of p.warnings)
        findings.push({ name: `plans.${name}`, ok: false, required: false, detail: w });
      for (const s of p.notPointInTime)
        findings.push({
          name: key,
          ok: false,
          required: false,
          detail: `${s} is not on btrfs or ZFS: it will be backed up live, not point-in-time`,
        });
    } catch (e) {
      findings.push(failure(key, e));
    }
    findings.push(...(await hookFindings(name, plan.hooks)));
    findings.push(...(await databaseFindings(name, plan.databases)));
  }

  const used = new Set(Object.values(config.plans).flatMap((p) => p.repositories));
  findings.push(...(await transportFindings(config, used)));
  for (const repoName of used) {
    const repo = config.repositories[repoName];
    if (!repo) continue; // the schema already refuses a plan naming an unknown repository
    kinds.add(repo.engine);
    findings.push(await repositoryFinding(config, repoName));
  }

  findings.push(...(await toolFindings(kinds)));

  if (config.metrics) {
    const dir = dirname(config.metrics.textfile);
    const isDir = await stat(dir).then(
      (s) => s.isDirectory(),
      () => false,
    );
    findings.push({
      name: "metrics.textfile",
      ok: isDir,
      required: true,
      detail: isDir
        ? `${config.metrics.textfile} (directory exists)`
        : `"${config.metrics.textfile}": directory ${dir} does not exist`,
      ...(isDir
        ? {}
        : {
            fix: `mkdir -p ${dir} (or point metrics.textfile at node_exporter's directory)`,
            exitCode: 2,
          }),
    });
  }
  return findings;
}

async function repositoryFinding(config: Config, repoName: string): Promise<Finding> {
  const repo = config.repositories[repoName];
  const key = `repositories.${repoName}`;
  if (!repo) return { name: key, ok: false, required: true, detail: "not defined", exitCode: 2 };
  try {
    const secrets = await resolveSecrets(repoName, repo);
    const engine = await openEngine(config, repoName, repo, secrets);
    for (const s of engine.secretValues()) registerSecret(s);
    // Listing backups proves the repository is reachable, exists and takes the password, and
    // unlike opening it for a backup it never creates one (init = true) or removes locks.
    const snapshots = await engine.snapshots();
    return {
      name: key,
      ok: true,
      required: true,
      detail: `${repo.engine} repository opens (${snapshots.length} backup${snapshots.length === 1 ? "" : "s"})`,
    };
  } catch (e) {
    if (e instanceof ResticError && e.kind === "repo-missing" && "init" in repo && repo.init)
      return {
        name: key,
        ok: true,
        required: true,
        detail: "does not exist yet: the first backup creates it (init = true)",
      };
    return failure(key, e);
  }
}

/** A hook whose program is not there fails the run (before/after_snapshot) or its report. */
async function hookFindings(
  planName: string,
  hooks: Config["plans"][string]["hooks"],
): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const [i, hook] of hooks.entries()) {
    const key = `plans.${planName}.hooks[${i}]${hook.name ? ` (${hook.name})` : ""}`;
    const program = hook.run?.[0] ?? "/bin/sh";
    const found = program.includes("/")
      ? await access(program, constants.X_OK).then(
          () => program,
          () => undefined,
        )
      : await which(program);
    if (found === undefined)
      findings.push({
        name: `${key}.${hook.run ? "run" : "shell"}`,
        ok: false,
        required: true,
        detail: `"${program}" ${program.includes("/") ? "is not an executable file" : "is not on PATH"}`,
        fix: "install it or give its absolute path",
        exitCode: 2,
      });
  }
  if (findings.length === 0 && hooks.length > 0)
    findings.push({
      name: `plans.${planName}.hooks`,
      ok: true,
      required: true,
      detail: `${hooks.length} hook${hooks.length === 1 ? "" : "s"}: every program found`,
    });
  return findings;
}

/**
 * What a dump needs before it connects: its client program, its password file (private), and
 * for SQLite the database file. Connecting is left to the run: a database may well be down
 * for maintenance while the config is being checked.
 */
async function databaseFindings(
  planName: string,
  databases: Config["plans"][string]["databases"],
): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const [i, db] of databases.entries()) {
    const key = `plans.${planName}.databases[${i}] (${db.name})`;
    const programs =
      db.type === "sqlite"
        ? ["sqlite3"]
        : db.type === "mysql"
          ? ["mariadb-dump", "mysqldump"]
          : [db.database === "all" ? "pg_dumpall" : "pg_dump"];
    let found: string | undefined;
    for (const program of programs) found ??= await which(program);
    const problems: string[] = [];
    if (found === undefined) problems.push(`${programs.join(" or ")} is not on PATH`);
    if (db.type === "sqlite") {
      const isFile = await stat(db.path).then(
        (st) => st.isFile(),
        () => false,
      );
      if (!isFile) problems.push(`path = "${db.path}" is not a file`);
    } else if (db.password_file !== undefined) {
      await readPasswordFile(`${key}.password_file`, db.password_file).catch((e: unknown) =>
        problems.push(errorMessage(e)),
      );
    }
    const clientPackage =
      db.type === "sqlite"
        ? "sqlite3"
        : db.type === "mysql"
          ? "mariadb-client"
          : "postgresql-client";
    findings.push({
      name: key,
      ok: problems.length === 0,
      required: true,
      detail: problems.length === 0 ? `${db.type}: ${found ?? ""} found` : problems.join("; "),
      ...(problems.length === 0 ? {} : { exitCode: 2 }),
      ...(found === undefined
        ? { packages: [clientPackage], fix: `apt-get install ${clientPackage}` }
        : {}),
    });
  }
  return findings;
}

/** The tools the configured sources and repositories need, and only those. */
async function toolFindings(kinds: ReadonlySet<string>): Promise<Finding[]> {
  const findings: Finding[] = [];
  if (kinds.has("restic")) {
    try {
      const r = await probeRestic();
      findings.push({
        name: "restic",
        ok: true,
        required: true,
        detail: `${r.version} at ${r.path}`,
      });
    } catch (e) {
      findings.push({
        ...failure("restic", e),
        fix: "apt-get install restic",
        packages: ["restic"],
      });
    }
  }
  if (kinds.has("btrfs")) {
    const path = await which("btrfs");
    findings.push({
      name: "btrfs",
      ok: path !== undefined,
      required: true,
      detail: path ?? "btrfs-progs not installed, but a source or repository is btrfs",
      ...(path
        ? {}
        : { fix: "apt-get install btrfs-progs", exitCode: 2, packages: ["btrfs-progs"] }),
    });
  }
  if (kinds.has("zfs")) {
    const caps = await zfsCapabilities().catch(() => undefined);
    const ok = caps?.available === true;
    findings.push({
      name: "zfs",
      ok,
      required: true,
      detail: ok ? "available" : "zfs not available, but a source or repository is ZFS",
      ...(ok
        ? {}
        : {
            fix: "apt-get install zfsutils-linux (or zfs-fuse, and start it)",
            exitCode: 2,
            packages: ["zfsutils-linux"],
          }),
    });
  }
  if (kinds.has("kopia")) {
    const path = await which("kopia");
    findings.push({
      name: "kopia",
      ok: path !== undefined,
      required: true,
      detail: path ?? "kopia not on PATH, but a repository uses it",
      ...(path ? {} : { exitCode: 2 }),
    });
  }
  return findings;
}

function failure(name: string, e: unknown): Finding {
  const hint = e instanceof SnapbackError ? e.hint : undefined;
  return {
    name,
    ok: false,
    required: true,
    detail: errorMessage(e),
    ...(hint === undefined ? {} : { fix: hint }),
    exitCode: e instanceof SnapbackError ? e.exitCode : 1,
  };
}
