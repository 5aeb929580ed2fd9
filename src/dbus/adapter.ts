import * as dbus from "@particle/dbus-next";

/**
 * The one module that talks to the D-Bus library (@particle/dbus-next, the maintained fork of
 * dbus-next 0.10 without the optional native `usocket`, whose old node-gyp breaks `npm ci` of
 * better-sqlite3 here). Everything above sees plain calls, replies and signals, so the library
 * can be swapped without touching the service.
 *
 * Only the low-level API is used: the library's high-level service objects answer failures
 * with a JavaScript stack and do not tell a method who called it, and we need both the caller
 * (for GetConnectionUnixUser) and stack-free errors.
 */

export const DBusError = dbus.DBusError;
export type DBusError = dbus.DBusError;

/** Well-known error names (org.freedesktop.DBus.Error.*). */
export const ERR = {
  accessDenied: "org.freedesktop.DBus.Error.AccessDenied",
  unknownMethod: "org.freedesktop.DBus.Error.UnknownMethod",
  unknownObject: "org.freedesktop.DBus.Error.UnknownObject",
  unknownInterface: "org.freedesktop.DBus.Error.UnknownInterface",
  unknownProperty: "org.freedesktop.DBus.Error.UnknownProperty",
  propertyReadOnly: "org.freedesktop.DBus.Error.PropertyReadOnly",
  invalidArgs: "org.freedesktop.DBus.Error.InvalidArgs",
  failed: "org.freedesktop.DBus.Error.Failed",
  notSupported: "org.freedesktop.DBus.Error.NotSupported",
} as const;

/** A value with its D-Bus signature, for `v` (properties). 64-bit integers are bigint. */
export interface Typed {
  signature: string;
  value: unknown;
}

export interface IncomingCall {
  /** Unique name of the caller (":1.42"). */
  sender: string;
  path: string;
  iface: string;
  member: string;
  signature: string;
  body: unknown[];
}

export interface Reply {
  signature: string;
  body: unknown[];
}

/**
 * Answers a call addressed to us, or returns undefined when the call is not for this handler.
 * Handlers throw only DBusError; anything else becomes a plain Failed reply without details.
 */
export type CallHandler = (call: IncomingCall) => Promise<Reply> | undefined;

export type NameReply = "primary" | "exists";

export interface BusConnection extends AsyncDisposable {
  readonly uniqueName: string;
  /** DO_NOT_QUEUE: we are the primary owner now, or somebody else is. Throws DBusError (e.g. AccessDenied). */
  requestName(name: string): Promise<NameReply>;
  releaseName(name: string): Promise<void>;
  onCall(handler: CallHandler): void;
  signal(path: string, iface: string, member: string, signature: string, body: unknown[]): void;
  /** The uid of a connection, from the bus daemon (not from anything the caller says). */
  callerUid(sender: string): Promise<number>;
  variant(t: Typed): unknown;
  /** Called once when the connection to the bus is lost. */
  onLost(fn: (error: unknown) => void): void;
}

const BUS = {
  destination: "org.freedesktop.DBus",
  path: "/org/freedesktop/DBus",
  interface: "org.freedesktop.DBus",
};

/** The signature and value of a received variant (`v`), or undefined if it is not one. */
export function readVariant(v: unknown): Typed | undefined {
  return v instanceof dbus.Variant ? { signature: v.signature, value: v.value } : undefined;
}

/** Connects to the system bus ($DBUS_SYSTEM_BUS_ADDRESS or the standard socket). */
export async function connectSystemBus(): Promise<BusConnection> {
  const bus = dbus.systemBus();
  const lostHandlers: ((error: unknown) => void)[] = [];
  let lost = false;
  let closed = false;
  const markLost = (error: unknown): void => {
    if (lost || closed) return;
    lost = true;
    for (const fn of lostHandlers) fn(error);
  };
  await new Promise<void>((resolve, reject) => {
    const onError = (e: unknown): void => {
      bus.off("connect", onConnect);
      reject(e instanceof Error ? e : new Error(String(e)));
    };
    const onConnect = (): void => {
      bus.off("error", onError);
      resolve();
    };
    bus.once("error", onError);
    bus.once("connect", onConnect);
  });
  // From here an error means the bus went away; without a listener it would crash the run.
  bus.on("error", markLost);

  const handlers: CallHandler[] = [];
  bus.addMethodHandler((msg: dbus.Message): boolean => {
    const call: IncomingCall = {
      sender: msg.sender,
      path: msg.path,
      iface: msg.interface,
      member: msg.member,
      signature: msg.signature,
      body: msg.body,
    };
    for (const h of handlers) {
      const pending = h(call);
      if (pending === undefined) continue;
      // The library's typings say newError takes a string; it takes the call (as newMethodReturn).
      const newError = (call: dbus.Message, name: string, text: string): dbus.Message =>
        (
          dbus.Message as unknown as {
            newError(c: dbus.Message, n: string, t: string): dbus.Message;
          }
        ).newError(call, name, text);
      pending.then(
        (r) => bus.send(dbus.Message.newMethodReturn(msg, r.signature, r.body)),
        (e: unknown) =>
          bus.send(
            e instanceof dbus.DBusError
              ? newError(msg, e.type, e.text)
              : newError(msg, ERR.failed, "internal error"),
          ),
      );
      return true;
    }
    return false;
  });

  const callBus = async (
    member: string,
    signature: string,
    body: unknown[],
  ): Promise<unknown[]> => {
    const reply = await bus.call(new dbus.Message({ ...BUS, member, signature, body }));
    return (reply?.body ?? []) as unknown[];
  };

  return {
    get uniqueName() {
      return (bus as unknown as { name: string }).name;
    },
    async requestName(name) {
      const r = await bus.requestName(name, dbus.NameFlag.DO_NOT_QUEUE);
      // ALREADY_OWNER cannot happen on a fresh connection; anything but PRIMARY is "not ours".
      return r === dbus.RequestNameReply.PRIMARY_OWNER ? "primary" : "exists";
    },
    async releaseName(name) {
      await bus.releaseName(name);
    },
    onCall(handler) {
      handlers.push(handler);
    },
    signal(path, iface, member, signature, body) {
      if (lost || closed) return;
      bus.send(dbus.Message.newSignal(path, iface, member, signature, body));
    },
    async callerUid(sender) {
      const [uid] = await callBus("GetConnectionUnixUser", "s", [sender]);
      if (typeof uid !== "number") throw new dbus.DBusError(ERR.failed, "no uid for the caller");
      return uid;
    },
    variant(t) {
      return new dbus.Variant(t.signature, t.value);
    },
    onLost(fn) {
      lostHandlers.push(fn);
    },
    [Symbol.asyncDispose]() {
      if (!closed) {
        closed = true;
        bus.disconnect();
      }
      return Promise.resolve();
    },
  };
}
