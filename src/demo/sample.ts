import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** A small tree that looks like a home directory: documents, photos (binary), a project. */
export async function writeSampleData(root: string): Promise<number> {
  let files = 0;
  const put = async (rel: string, content: string | Buffer): Promise<void> => {
    const path = join(root, rel);
    await mkdir(join(path, ".."), { recursive: true });
    await writeFile(path, content);
    files++;
  };
  for (let i = 0; i < 40; i++)
    await put(`documents/note-${i}.txt`, `Note ${i}\n${"lorem ipsum ".repeat(50 + i)}\n`);
  for (let i = 0; i < 10; i++) {
    const bytes = Buffer.alloc(64 * 1024);
    for (let j = 0; j < bytes.length; j++) bytes[j] = (j * (i + 7) + (j >> 5)) & 0xff;
    await put(`photos/img-${i}.raw`, bytes);
  }
  await put("documents/todo.txt", "1. back up before it's too late\n");
  return files;
}
