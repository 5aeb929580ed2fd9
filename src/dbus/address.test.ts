import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { busSurelyAbsent, systemBusAddress, unixSocketPaths } from "./address.js";

describe("system bus address", () => {
  test("the environment's address, else the standard socket", () => {
    expect(systemBusAddress({ DBUS_SYSTEM_BUS_ADDRESS: "unix:path=/x" })).toBe("unix:path=/x");
    expect(systemBusAddress({})).toBe("unix:path=/var/run/dbus/system_bus_socket");
  });

  test("socket paths of unix:path entries, %-escapes decoded; undefined for any other kind", () => {
    expect(unixSocketPaths("unix:path=/run/a,guid=0123;unix:path=/tmp/b%20c")).toEqual([
      "/run/a",
      "/tmp/b c",
    ]);
    expect(unixSocketPaths("unix:abstract=/tmp/dbus-x")).toBeUndefined();
    expect(unixSocketPaths("unix:path=/run/a;tcp:host=localhost,port=1")).toBeUndefined();
    expect(unixSocketPaths("")).toBeUndefined();
  });

  test("surely absent only when every named socket is missing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "snapback-test-bus-"));
    try {
      const there = join(dir, "socket");
      await writeFile(there, "");
      const missing = join(dir, "missing");
      expect(await busSurelyAbsent(`unix:path=${missing}`)).toBe(`${missing} does not exist`);
      expect(await busSurelyAbsent(`unix:path=${missing};unix:path=${there}`)).toBeUndefined();
      expect(await busSurelyAbsent("unix:abstract=/x")).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
