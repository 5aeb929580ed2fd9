import { mkdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../engine/restic/test-support.js";
import { nextPruneDue, pruneStatePath, readPruneState, writePruneState } from "./prune-state.js";

describe("prune state (prune_every)", () => {
  it("is due when never pruned or when the last prune is at least `every` old", () => {
    const now = new Date("2024-01-10T00:00:00Z");
    expect(nextPruneDue("7d", { pending: true }, now)).toBeUndefined();
    expect(
      nextPruneDue("7d", { last_prune: "2024-01-03T00:00:00Z", pending: true }, now),
    ).toBeUndefined();
    expect(nextPruneDue("7d", { last_prune: "2024-01-04T00:00:00Z", pending: true }, now)).toEqual(
      new Date("2024-01-11T00:00:00Z"),
    );
    expect(
      nextPruneDue("1w12h", { last_prune: "2024-01-09T00:00:00Z", pending: false }, now),
    ).toEqual(new Date("2024-01-16T12:00:00Z"));
    expect(nextPruneDue("7d", { last_prune: "garbage", pending: true }, now)).toBeUndefined();
  });

  it("is kept per repository, private, and a torn or missing file reads as never pruned", async () => {
    await using d = await tempDir("prune-state");
    expect(await readPruneState(d.path, "nas")).toEqual({ pending: false });
    await writePruneState(d.path, "nas", { last_prune: "2024-01-01T00:00:00.000Z", pending: true });
    expect(await readPruneState(d.path, "nas")).toEqual({
      last_prune: "2024-01-01T00:00:00.000Z",
      pending: true,
    });
    expect(await readPruneState(d.path, "usb")).toEqual({ pending: false });
    expect((await stat(pruneStatePath(d.path, "nas"))).mode & 0o777).toBe(0o600);
    await mkdir(join(d.path, "prune"), { recursive: true });
    await writeFile(pruneStatePath(d.path, "usb"), '{"last_prune": 12, "pen');
    expect(await readPruneState(d.path, "usb")).toEqual({ pending: false });
  });
});
