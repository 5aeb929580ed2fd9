import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import type { TestRepo } from "../../test/fixtures/restic.js";

export interface TempDir extends AsyncDisposable {
  path: string;
}

export async function tempDir(prefix: string): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), `snapback-test-ignore-${prefix}-`));
  return {
    path,
    async [Symbol.asyncDispose]() {
      await rm(path, { recursive: true, force: true });
    },
  };
}

/**
 * Creates a tree: a key ending in "/" is a directory, "-> target" a symlink, anything else
 * a file with that content.
 */
export async function makeTree(root: string, tree: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(tree)) {
    const path = join(root, rel);
    if (rel.endsWith("/")) {
      await mkdir(path, { recursive: true });
    } else if (content.startsWith("-> ")) {
      await mkdir(dirname(path), { recursive: true });
      await symlink(content.slice(3), path);
    } else {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, content);
    }
  }
}

/** Every entry of the latest snapshot below `root`, relative, directories with a trailing "/". */
export async function snapshotEntries(repo: TestRepo, root: string): Promise<string[]> {
  const out = await repo.restic(["ls", "--json", "latest"]);
  return out
    .split("\n")
    .filter((l) => l.includes('"struct_type":"node"'))
    .map((l) => JSON.parse(l) as { path: string; type: string })
    .filter((n) => n.path.startsWith(`${root}/`))
    .map((n) => relative(root, n.path) + (n.type === "dir" ? "/" : ""))
    .sort();
}
