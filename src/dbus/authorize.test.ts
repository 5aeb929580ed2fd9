import { describe, expect, it } from "vitest";
import { isMember, mayControl } from "./authorize.js";

const PASSWD = [
  "root:x:0:0:root:/root:/bin/bash",
  "alice:x:1000:1000:Alice:/home/alice:/bin/bash",
  "bob:x:1001:1001:Bob:/home/bob:/bin/bash",
  "carol:x:1002:1003:Carol:/home/carol:/bin/bash",
].join("\n");
const GROUP = ["root:x:0:", "alice:x:1000:", "bob:x:1001:", "backup:x:1003:alice"].join("\n");

describe("who may control backups", () => {
  it("root always, nobody else without allow_group", async () => {
    expect(await mayControl(0, undefined)).toBe(true);
    expect(await mayControl(65534, undefined)).toBe(false);
  });

  it("members listed in /etc/group and users whose primary group it is", () => {
    expect(isMember(1000, "backup", GROUP, PASSWD)).toBe(true);
    expect(isMember(1002, "backup", GROUP, PASSWD)).toBe(true);
    expect(isMember(1001, "backup", GROUP, PASSWD)).toBe(false);
  });

  it("an unknown group or uid admits no one", () => {
    expect(isMember(1000, "wheel", GROUP, PASSWD)).toBe(false);
    expect(isMember(4242, "backup", GROUP, PASSWD)).toBe(false);
  });
});
