import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import * as z from "../util/zod.js";
import { SnapbackError, UsageError } from "../errors.js";

export const roleSchema = z.enum(["admin", "viewer"]);
export type Role = z.infer<typeof roleSchema>;

const principalName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, "may contain only letters, digits, '_', '-'");

const entrySchema = z.strictObject({
  role: roleSchema,
  /** scrypt$N$r$p$salt$hash (base64url). */
  hash: z.string(),
  created: z.string(),
});

const usersFileSchema = z.strictObject({
  users: z.record(z.string(), entrySchema).default({}),
  tokens: z.record(z.string(), entrySchema).default({}),
});

export type UsersFile = z.infer<typeof usersFileSchema>;

export interface Principal {
  name: string;
  role: Role;
  kind: "user" | "token";
}

/** N=2^15 costs ~0.1 s and 32 MiB: slow for a guesser, fine for a login. */
const SCRYPT: ScryptOptions = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEY_LEN = 32;

function scryptAsync(secret: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, KEY_LEN, opts, (e, key) => (e ? reject(e) : resolve(key))),
  );
}

export async function hashSecret(secret: string, N = SCRYPT.N ?? 1 << 15): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(secret, salt, { ...SCRYPT, N });
  return [
    "scrypt",
    N,
    SCRYPT.r,
    SCRYPT.p,
    salt.toString("base64url"),
    key.toString("base64url"),
  ].join("$");
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const [alg, n, r, p, salt, hash] = stored.split("$");
  if (alg !== "scrypt" || !salt || !hash) return false;
  const expected = Buffer.from(hash, "base64url");
  const key = await scryptAsync(secret, Buffer.from(salt, "base64url"), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: 256 * 1024 * 1024,
  });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A hash of a user's password that nobody's password matches: wrong user names cost as much as wrong passwords. */
let dummyHash: Promise<string> | undefined;

/**
 * The users file (`[server] users_file`, default `<state_dir>/users`): JSON, mode 0600,
 * written atomically. Passwords and tokens only as scrypt hashes.
 */
export class UsersStore {
  private cache: { mtimeMs: number; data: UsersFile } | undefined;
  /** sha256(token) → token name, for tokens already verified against the current file. */
  private verifiedTokens = new Map<string, string>();

  private readonly scryptN: number | undefined;

  /** `scryptN` lowers the hash cost (tests only; the hash records its own cost). */
  constructor(
    readonly path: string,
    options: { scryptN?: number } = {},
  ) {
    this.scryptN = options.scryptN;
  }

  static forConfig(stateDir: string, usersFile: string | undefined): UsersStore {
    return new UsersStore(usersFile ?? join(stateDir, "users"));
  }

  async read(): Promise<UsersFile> {
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(this.path)).mtimeMs;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return { users: {}, tokens: {} };
      throw e;
    }
    if (this.cache?.mtimeMs === mtimeMs) return this.cache.data;
    let data: UsersFile;
    try {
      data = usersFileSchema.parse(JSON.parse(await readFile(this.path, "utf8")));
    } catch (e) {
      throw new SnapbackError(`users file ${this.path} is damaged: ${String(e)}`, { exitCode: 2 });
    }
    this.cache = { mtimeMs, data };
    this.verifiedTokens.clear();
    return data;
  }

  private async write(data: UsersFile): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.tmp-${process.pid}`;
    await writeFile(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
    await rename(tmp, this.path);
    this.cache = undefined;
  }

  async addUser(name: string, password: string, role: Role): Promise<void> {
    checkName("user", name);
    if (password.length < 8)
      throw new UsageError("user add: the password must have at least 8 characters");
    const data = await this.read();
    data.users[name] = {
      role,
      hash: await hashSecret(password, this.scryptN),
      created: new Date().toISOString(),
    };
    await this.write(data);
  }

  async removeUser(name: string): Promise<void> {
    const data = await this.read();
    if (!Object.hasOwn(data.users, name)) throw new UsageError(`user remove: no user "${name}"`);
    delete data.users[name];
    await this.write(data);
  }

  /** Creates a token and returns it: the only time it exists in clear. */
  async createToken(name: string, role: Role): Promise<string> {
    checkName("token", name);
    const data = await this.read();
    if (Object.hasOwn(data.tokens, name))
      throw new UsageError(`token create: a token "${name}" exists; revoke it first`);
    const token = `sbt.${name}.${randomBytes(32).toString("base64url")}`;
    data.tokens[name] = {
      role,
      hash: await hashSecret(token, this.scryptN),
      created: new Date().toISOString(),
    };
    await this.write(data);
    return token;
  }

  async revokeToken(name: string): Promise<void> {
    const data = await this.read();
    if (!Object.hasOwn(data.tokens, name)) throw new UsageError(`token revoke: no token "${name}"`);
    delete data.tokens[name];
    await this.write(data);
  }

  async checkPassword(name: string, password: string): Promise<Principal | undefined> {
    const data = await this.read();
    const entry = Object.hasOwn(data.users, name) ? data.users[name] : undefined;
    dummyHash ??= hashSecret(randomBytes(16).toString("hex"), this.scryptN);
    const ok = await verifySecret(password, entry?.hash ?? (await dummyHash));
    return ok && entry ? { name, role: entry.role, kind: "user" } : undefined;
  }

  async checkToken(token: string): Promise<Principal | undefined> {
    const data = await this.read();
    const m = /^sbt\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+$/.exec(token);
    const name = m?.[1];
    if (name === undefined || !Object.hasOwn(data.tokens, name)) return undefined;
    const entry = data.tokens[name];
    if (!entry) return undefined;
    // scrypt on every API call would cost 0.1 s each: remember tokens verified against this file.
    const digest = createHash("sha256").update(token).digest("base64url");
    if (this.verifiedTokens.get(digest) !== name) {
      if (!(await verifySecret(token, entry.hash))) return undefined;
      this.verifiedTokens.set(digest, name);
    }
    return { name, role: entry.role, kind: "token" };
  }

  /** The role a user has now (a session ends when its user is removed). */
  async roleOf(principal: Principal): Promise<Role | undefined> {
    const data = await this.read();
    const table = principal.kind === "user" ? data.users : data.tokens;
    return Object.hasOwn(table, principal.name) ? table[principal.name]?.role : undefined;
  }
}

function checkName(what: string, name: string): void {
  const r = principalName.safeParse(name);
  if (!r.success)
    throw new UsageError(`${what} name "${name}" ${r.error.issues[0]?.message ?? "is invalid"}`);
}
