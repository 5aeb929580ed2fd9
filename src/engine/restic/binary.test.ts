import { describe, expect, it } from "vitest";
import { resolve } from "node:path";
import {
  parseFeatures,
  parseResticVersion,
  probeRestic,
  stdinFilenameFor,
  versionAtLeast,
} from "./binary.js";
import { ResticError } from "./errors.js";

/** Unpacked by `make deps` from Debian 13 (scripts/debian-trixie.sh). */
const RESTIC_018 = resolve(".cache/debian-trixie/root/usr/bin/restic");

describe("parseResticVersion", () => {
  it("reads release and development builds", () => {
    expect(
      parseResticVersion("restic 0.14.0 compiled with go1.19.8 on linux/amd64\n"),
    ).toMatchObject({
      major: 0,
      minor: 14,
      patch: 0,
    });
    expect(
      parseResticVersion(
        "restic 0.19.1-dev (compiled manually) compiled with go1.24 on linux/arm64",
      ),
    ).toMatchObject({ major: 0, minor: 19, patch: 1 });
    expect(parseResticVersion("rustic 0.9.0")).toBeUndefined();
  });

  it("compares versions", () => {
    const v = { major: 0, minor: 17, patch: 1, text: "" };
    expect(versionAtLeast(v, 0, 17)).toBe(true);
    expect(versionAtLeast(v, 0, 17, 2)).toBe(false);
    expect(versionAtLeast(v, 0, 9, 9)).toBe(true);
    expect(versionAtLeast(v, 1, 0)).toBe(false);
  });
});

describe("parseFeatures", () => {
  it("reads the table of restic features (0.17+)", () => {
    const text = [
      "All Feature Flags:",
      "Name                        Type        Default  Description",
      "--------------------------------------------------------------------------------",
      "backend-error-redesign      beta        true     enforce timeouts for stuck HTTP requests",
      "device-id-for-hardlinks     alpha       false    store deviceID only for hardlinks to reduce",
      "explicit-s3-anonymous-auth  stable      true     forbid anonymous S3 authentication",
      "",
    ].join("\n");
    expect([...parseFeatures(text)].sort()).toEqual([
      "backend-error-redesign",
      "device-id-for-hardlinks",
      "explicit-s3-anonymous-auth",
    ]);
  });

  it("finds nothing in an error text", () => {
    expect(parseFeatures('Error: unknown command "features" for "restic"').size).toBe(0);
  });
});

describe("probeRestic", () => {
  it("finds Debian 12's restic 0.14 on PATH: the absolute path, the version and no features", async () => {
    const r = await probeRestic("/usr/bin/restic");
    expect(r.path).toBe("/usr/bin/restic");
    expect(r.version).toBe("0.14.0");
    expect(r.semver.text).toMatch(/^restic 0\.14\.0/);
    // 0.14 has no `features` command: nothing is guessed.
    expect(r.features.size).toBe(0);
  });

  it("finds Debian 13's restic 0.18 and the features it lists", async () => {
    const r = await probeRestic(RESTIC_018);
    expect(r.version).toBe("0.18.0");
    expect(r.features.has("device-id-for-hardlinks")).toBe(true);
    expect(r.features.has("backend-error-redesign")).toBe(true);
  });

  it("stores a stream under a flat name only on restic 0.18.0 (restic#5324)", async () => {
    const file = "/snapback-databases/p/app.pg_dump";
    expect(stdinFilenameFor(await probeRestic("/usr/bin/restic"), file)).toBe(file);
    expect(stdinFilenameFor(await probeRestic(RESTIC_018), file)).toBe(
      "/snapback-databases__p__app.pg_dump",
    );
    const v = (patch: number) => ({ semver: { major: 0, minor: 18, patch, text: "" } });
    expect(stdinFilenameFor(v(1), file)).toBe(file);
  });

  it("probes once per process", async () => {
    const a = probeRestic();
    const b = probeRestic();
    expect(a).toBe(b);
    expect(await a).toBe(await b);
  });

  it("reports a missing binary as not-found-binary", async () => {
    const missing = probeRestic("restic-does-not-exist-here");
    await expect(missing).rejects.toBeInstanceOf(ResticError);
    await expect(missing).rejects.toMatchObject({ kind: "not-found-binary" });
    await expect(probeRestic("/nonexistent/restic")).rejects.toMatchObject({
      kind: "not-found-binary",
      message: "restic not found at /nonexistent/restic",
    });
  });
});
