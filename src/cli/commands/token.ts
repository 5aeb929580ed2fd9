import { UsageError } from "../../errors.js";
import { DEFAULT_SERVER } from "../../serve/schema.js";
import { UsersStore } from "../../serve/users.js";
import { parseCommand } from "../args.js";
import type { Command } from "../command.js";
import { parseRole } from "./user.js";

export const tokenCommand: Command = {
  name: "token",
  summary: "API tokens for scripts: create NAME [--role admin|viewer], revoke NAME, list",
  usage:
    "snapback token create NAME [--role admin|viewer]   (prints the token once)\n" +
    "snapback token revoke NAME\nsnapback token list",
  async run(argv, io) {
    const { global, values, positionals, help } = parseCommand("token", argv, {
      role: { type: "string" },
    });
    const [action, name, ...extra] = positionals;
    if (help || action === undefined) {
      io.print(this.usage);
      return help ? 0 : 2;
    }
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
};
