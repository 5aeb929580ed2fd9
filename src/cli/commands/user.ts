import { UsageError } from "../../errors.js";
import { DEFAULT_SERVER } from "../../serve/schema.js";
import { roleSchema, UsersStore, type Role } from "../../serve/users.js";
import { parseCommand } from "../args.js";
import type { Command } from "../command.js";
import { readSecret } from "../secret-input.js";

export const userCommand: Command = {
  name: "user",
  summary: "users of snapback serve: add NAME [--role admin|viewer], remove NAME, list",
  usage:
    "snapback user add NAME [--role admin|viewer]   (password from stdin; not echoed on a terminal)\n" +
    "snapback user remove NAME\nsnapback user list",
  async run(argv, io) {
    const { global, values, positionals, help } = parseCommand("user", argv, {
      role: { type: "string" },
    });
    const [action, name, ...extra] = positionals;
    if (help || action === undefined) {
      io.print(this.usage);
      return help ? 0 : 2;
    }
    if (extra.length > 0) throw new UsageError(`user: unexpected "${extra.join(" ")}"`);
    const { config } = await io.load(global);
    const store = UsersStore.forConfig(
      config.state_dir,
      (config.server ?? DEFAULT_SERVER).users_file,
    );
    switch (action) {
      case "add": {
        if (name === undefined) throw new UsageError("user add: name the user");
        const role = parseRole(values.role);
        const password = await readSecret(`password for ${name}: `);
        await store.addUser(name, password, role);
        io.print(`user ${name} (${role}) saved in ${store.path}`);
        return 0;
      }
      case "remove":
        if (name === undefined) throw new UsageError("user remove: name the user");
        await store.removeUser(name);
        io.print(`user ${name} removed`);
        return 0;
      case "list": {
        const data = await store.read();
        const rows = Object.entries(data.users).map(([n, u]) => ({
          name: n,
          role: u.role,
          created: u.created,
        }));
        if (global.json) io.printJson(rows);
        else for (const r of rows) io.print(`${r.name}\t${r.role}\t${r.created}`);
        return 0;
      }
      default:
        throw new UsageError(`user: unknown action "${action}" (add, remove, list)`);
    }
  },
};

export function parseRole(text: string | undefined): Role {
  const r = roleSchema.safeParse(text ?? "admin");
  if (!r.success) throw new UsageError(`--role: "${text ?? ""}" must be admin or viewer`);
  return r.data;
}
