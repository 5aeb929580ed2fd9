import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.js";
import { parseConfigText } from "../config/load.js";

const BASE = `[repositories.r]
engine = "restic"
url = "/srv/restic"
password_file = "/etc/snapback/r.pass"

[plans.home]
sources = ["/home"]
repositories = ["r"]
`;

function problem(dbus: string): string {
  try {
    parseConfigText(`${BASE}\n[dbus]\n${dbus}\n`, "/etc/snapback/snapback.toml");
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("[dbus]", () => {
  it("defaults: enabled, no group, no file names on the bus", () => {
    const config = parseConfigText(`${BASE}\n[dbus]\n`, "/etc/snapback/snapback.toml");
    expect(config.dbus).toEqual({ enable: true, broadcast_file_names: false });
  });

  it("names the key and quotes the value of a bad group", () => {
    const message = problem('allow_group = "back up"');
    expect(message).toContain("dbus.allow_group");
    expect(message).toContain("must be a group name");
    expect(message).toContain('"back up"');
  });

  it("refuses unknown keys", () => {
    expect(problem("broadcast_filenames = true")).toContain("broadcast_filenames");
  });
});
