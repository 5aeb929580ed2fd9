import { UsageError } from "../../errors.js";
import { DEFAULT_SERVER } from "../../serve/schema.js";
import { UsersStore } from "../../serve/users.js";
import { defineCommand } from "../command.js";
import { parseRole } from "./user.js";

export const tokenCommand = defineCommand({
  name: "token",
  summary: "API tokens for scripts: create NAME [--role admin|viewer], revoke NAME, list",
  synopsis: ["token create NAME [--role admin|viewer]", "token revoke NAME", "token list"],
  description: [
    "A token is sent as `Authorization: Bearer TOKEN`. It is printed once, when created, and stored only as a hash.",
  ],
  positionals: [
    {
      name: "ACTION",
      description: "create, revoke or list",
      complete: ["create", "revoke", "list"],
    },
    { name: "NAME", description: "the token's name", optional: true },
  ],
  options: {
    role: {
      type: "string",
      value: "ROLE",
      description: "admin or viewer (default viewer)",
      complete: ["admin", "viewer"],
    },
  },
  examples: [
    {
      command: "snapback token create monitoring --role viewer",
      description: "a read-only token for a script",
    },
    { command: "snapback token revoke monitoring", description: "it stops working at once" },
  ],
  async run({ global, values, positionals }, io) {
    const [action, name, ...extra] = positionals;
    if (action === undefined)
      throw new UsageError("token: expected create, revoke or list", {
        hint: "see: snapback token --help",
      });
    if (extra.length > 0) throw new UsageError(`token: unexpected "${extra.join(" ")}"`);
    const { config } = await io.load(global);
    const store = UsersStore.forConfig(
      config.state_dir,
      (config.server ?? DEFAULT_SERVER).users_file,
    );
    switch (action) {
      case "create": {
        if (name === undefined) throw new UsageError("token create: name the token");
        const role = parseRole(values.role);
        const token = await store.createToken(name, role);
        if (global.json) io.printJson({ name, role, token });
        else io.print(token);
        return 0;
      }
      case "revoke":
        if (name === undefined) throw new UsageError("token revoke: name the token");
        await store.revokeToken(name);
        io.print(`token ${name} revoked`);
        return 0;
      case "list": {
        const data = await store.read();
        const rows = Object.entries(data.tokens).map(([n, t]) => ({
          name: n,
          role: t.role,
          created: t.created,
        }));
        if (global.json) io.printJson(rows);
        else for (const r of rows) io.print(`${r.name}\t${r.role}\t${r.created}`);
        return 0;
      }
      default:
        throw new UsageError(`token: unknown action "${action}" (create, revoke, list)`);
    }
  },
});
