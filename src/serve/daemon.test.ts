import { describe, expect, it } from "vitest";
import { checkExposure, isLoopback, parseListen } from "./daemon.js";
import { DEFAULT_SERVER, serverSchema } from "./schema.js";

describe("listen address", () => {
  it("parses host:port, [v6]:port and :port", () => {
    expect(parseListen("127.0.0.1:8470", "server.listen")).toEqual({
      host: "127.0.0.1",
      port: 8470,
    });
    expect(parseListen("[::1]:0", "server.listen")).toEqual({ host: "::1", port: 0 });
    expect(parseListen(":8470", "server.listen")).toEqual({ host: "0.0.0.0", port: 8470 });
    expect(() => parseListen("8470", "--listen")).toThrow(
      '--listen: "8470" is not an address like "127.0.0.1:8470"',
    );
    expect(isLoopback("127.0.0.2")).toBe(true);
    expect(isLoopback("localhost")).toBe(true);
    expect(isLoopback("0.0.0.0")).toBe(false);
    expect(isLoopback("192.168.1.2")).toBe(false);
  });

  it("refuses a non-loopback address without TLS or allow_plain_http, naming the key", () => {
    expect(() => checkExposure(DEFAULT_SERVER, "0.0.0.0:8470", "server.listen")).toThrow(
      /^server\.listen: "0\.0\.0\.0:8470" is not a loopback address and \[server\] has no tls_cert\/tls_key/,
    );
    expect(() => checkExposure(DEFAULT_SERVER, "127.0.0.1:8470", "server.listen")).not.toThrow();
    const plain = serverSchema.parse({ allow_plain_http: true });
    expect(() => checkExposure(plain, "0.0.0.0:8470", "server.listen")).not.toThrow();
    const tls = serverSchema.parse({ tls_cert: "/c.pem", tls_key: "/k.pem" });
    expect(() => checkExposure(tls, "0.0.0.0:8470", "server.listen")).not.toThrow();
    expect(serverSchema.safeParse({ tls_cert: "/c.pem" }).error?.issues[0]).toMatchObject({
      path: ["tls_key"],
      message: "tls_cert and tls_key go together",
    });
  });
});
