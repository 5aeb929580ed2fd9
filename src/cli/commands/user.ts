import { UsageError } from "../../errors.js";
import { DEFAULT_SERVER } from "../../serve/schema.js";
import { roleSchema, UsersStore, type Role } from "../../serve/users.js";
import { defineCommand } from "../command.js";
import { readSecret } from "../secret-input.js";

export const userCommand = defineCommand({
  name: "user",
  summary: "users of snapback serve: add NAME [--role admin|viewer], remove NAME, list",
  synopsis: ["user add NAME [--role admin|viewer]", "user remove NAME", "user list"],
  description: [
    "Users log in to the web UI and the API. The password is read from stdin (not echoed on a terminal) and stored as a salted scrypt hash in the users file ([server] users_file, default <state_dir>/users, mode 0600).",
  ],
  positionals: [
    { name: "ACTION", description: "add, remove or list", complete: ["add", "remove", "list"] },
    { name: "NAME", description: "the user", optional: true },
  ],
  options: {
    role: {
      type: "string",
      value: "ROLE",
      description: "admin (may change state) or viewer (read only); default viewer",
      complete: ["admin", "viewer"],
    },
  },
  examples: [
    { command: "snapback user add alice --role admin", description: "asks for alice's password" },
    { command: "snapback user list", description: "names, roles and when they were added" },
  ],
  async run({ global, values, positionals }, io) {
    const [action, name, ...extra] = positionals;
    if (action === undefined)
      throw new UsageError("user: expected add, remove or list", {
        hint: "see: snapback user --help",
      });
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
});

export function parseRole(text: string | undefined): Role {
  const r = roleSchema.safeParse(text ?? "admin");
  if (!r.success) throw new UsageError(`--role: "${text ?? ""}" must be admin or viewer`);
  return r.data;
}
