import type { ViewBind } from "../core/snapshot.js";
import { isUnder } from "../util/paths.js";

/**
 * The view: a private mount namespace in which every snapshot is bind-mounted read-only over
 * its source's original path, so the engine records original paths and finds its parent
 * snapshot. The namespace is created by `unshare --mount --propagation private`, set up by a
 * generated POSIX shell script, and dies with the engine process: even a SIGKILL of everything
 * leaves no mount behind.
 */
export interface ViewSpec {
  /** Read-only snapshot binds, parents before children. */
  binds: ViewBind[];
  /**
   * Live directories the engine must be able to write inside the view (its cache and temp
   * dirs). They may lie inside a source, so they are opened before the snapshot binds hide
   * them and re-mounted on top through /proc/self/fd.
   */
  writable: string[];
}

/** Kernel filesystems a chrooted engine needs when the view replaces "/". */
export const ROOT_SYSTEM_MOUNTS = ["/dev", "/proc", "/sys", "/run"] as const;

export function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Builds the bash script run inside the namespace; the engine's argv follows as "$@".
 *
 * Every source of a bind (snapshot or live writable dir) is opened as a file descriptor
 * before the first mount: once a snapshot covers a source, paths below it (a nested
 * snapshot in `<subvolume>/.snapback`, a cache dir) would resolve into the snapshot. Mounting
 * from /proc/self/fd/N reaches the object itself.
 *
 * When a source is "/" the view cannot be mounted over the running root, so the root snapshot
 * becomes a new root (chroot) with the kernel filesystems and writable dirs bound into it.
 */
export function viewScript(spec: ViewSpec): string {
  const rootBind = spec.binds.find((b) => b.to === "/");
  const prefix = rootBind ? rootBind.from : "";
  const at = (path: string): string => quote(path === "/" ? prefix || "/" : prefix + path);
  // A writable dir needs its own mount only where a snapshot bind covers it; elsewhere the
  // live directory stays reachable as it is (one process start fewer per dir and run).
  const writable = spec.writable.filter((dir) => spec.binds.some((b) => isUnder(dir, b.to)));
  const lines = ["set -eu"];
  spec.binds.forEach((b, i) => lines.push(`exec {s${i}}< ${quote(b.from)}`));
  writable.forEach((dir, i) => lines.push(`exec {w${i}}< ${quote(dir)}`));
  // -c: hand the magic link to the kernel as is; canonicalising it would name a hidden path.
  // bind,ro in one command: mount(8) (util-linux ≥ 2.27) binds, then remounts read-only.
  spec.binds.forEach((b, i) => {
    lines.push(`mount -c -o bind,ro "/proc/self/fd/$s${i}" ${at(b.to)}`);
  });
  if (rootBind) {
    for (const m of ROOT_SYSTEM_MOUNTS) {
      lines.push(`if [ -d ${at(m)} ]; then mount --rbind ${m} ${at(m)}; fi`);
    }
  }
  writable.forEach((dir, i) => lines.push(`mount -c --bind "/proc/self/fd/$w${i}" ${at(dir)}`));
  const fds = [...spec.binds.map((_, i) => `s${i}`), ...writable.map((_, i) => `w${i}`)];
  if (fds.length > 0) lines.push(fds.map((f) => `exec {${f}}<&-`).join("; "));
  lines.push(rootBind ? `cd / && exec chroot ${quote(prefix)} "$@"` : `exec "$@"`);
  return lines.join("\n");
}
