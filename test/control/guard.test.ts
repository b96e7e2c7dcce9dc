import { describe, expect, test } from "bun:test";
import {
  type RequestFacts,
  RequestGuard,
  rejectionResponse,
} from "../../src/interfaces/shared/request-guard.ts";

const TOKEN = "s3cret-token";
const ok: RequestFacts = {
  host: "127.0.0.1:4000",
  origin: undefined,
  authorization: `Bearer ${TOKEN}`,
  contentLength: undefined,
};
const loopback = new RequestGuard(TOKEN, { host: "127.0.0.1", port: 4000 }, 1024);
const wildcard = new RequestGuard(TOKEN, { host: "0.0.0.0", port: 4000 }, 1024);
const lan = new RequestGuard(TOKEN, { host: "192.168.1.5", port: 4000 }, 1024);
const v6 = new RequestGuard(TOKEN, { host: "::1", port: 4000 }, 1024);

describe("RequestGuard: Host must name the listener (DNS rebinding)", () => {
  test.each([
    [loopback, "127.0.0.1:4000", true],
    [loopback, "localhost:4000", true],
    [loopback, "LOCALHOST:4000", true],
    [loopback, "[::1]:4000", true],
    [loopback, "127.0.0.1:4001", false],
    [loopback, "127.0.0.1", false],
    [loopback, "evil.example:4000", false],
    [loopback, "127.0.0.1.nip.io:4000", false],
    [loopback, "192.168.1.5:4000", false],
    [loopback, "", false],
    [loopback, "127.0.0.1:4000:4000", false],
    [wildcard, "192.168.1.5:4000", true],
    [wildcard, "[fe80::1]:4000", true],
    [wildcard, "localhost:4000", true],
    [wildcard, "myhost.lan:4000", false],
    [lan, "192.168.1.5:4000", true],
    [lan, "127.0.0.1:4000", false],
    [v6, "[::1]:4000", true],
    [v6, "localhost:4000", true],
  ] as const)("%#: %p accepts %p: %p", (guard, host, expected) => {
    expect(guard.namesListener(host)).toBe(expected);
    expect(guard.check({ ...ok, host })?.status).toBe(expected ? undefined : 403);
  });

  test("no Host at all is refused", () => {
    expect(loopback.check({ ...ok, host: undefined })).toMatchObject({
      status: 403,
      code: "permission_denied",
    });
  });
});

describe("RequestGuard: browser Origin", () => {
  test.each([
    ["http://127.0.0.1:4000", undefined],
    ["http://localhost:4000", undefined],
    ["https://127.0.0.1:4000", 403],
    ["http://evil.example", 403],
    ["http://127.0.0.1:4001", 403],
    ["null", 403],
    ["http://127.0.0.1", 403],
  ] as const)("Origin %p -> %p", (origin, status) => {
    expect(loopback.check({ ...ok, origin })?.status).toBe(status);
  });
});

describe("RequestGuard: bearer token", () => {
  test.each([
    [`Bearer ${TOKEN}`, undefined],
    [`bearer ${TOKEN}`, undefined],
    [`Bearer  ${TOKEN} `, undefined],
    [undefined, 401],
    ["", 401],
    ["Bearer", 401],
    [`Basic ${TOKEN}`, 401],
    [`Bearer ${TOKEN}x`, 401],
    [`Bearer ${TOKEN.slice(0, -1)}`, 401],
    [`Bearer ${TOKEN} extra`, 401],
  ] as const)("Authorization %p -> %p", (authorization, status) => {
    const rejection = loopback.check({ ...ok, authorization });
    expect(rejection?.status).toBe(status);
    if (status !== undefined) expect(rejection?.code).toBe("unauthenticated");
  });

  test("the Host check comes first: a rebinding page learns nothing about the token", () => {
    expect(loopback.check({ ...ok, host: "evil.example:4000", authorization: undefined })?.status).toBe(403);
  });
});

describe("RequestGuard: body size", () => {
  test.each([
    [undefined, undefined],
    ["0", undefined],
    ["1024", undefined],
    ["1025", 413],
    ["99999999999", 413],
    ["abc", 413],
  ] as const)("Content-Length %p -> %p", (contentLength, status) => {
    expect(loopback.check({ ...ok, contentLength })?.status).toBe(status);
  });
});

describe("rejectionResponse", () => {
  test("JSON {code, message} with the HTTP status for REST and Connect clients", async () => {
    const response = rejectionResponse(
      { status: 401, code: "unauthenticated", message: "no token" },
      "application/json",
    );
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe('Bearer realm="dlm"');
    expect(await response.json()).toEqual({ code: "unauthenticated", message: "no token" });
  });

  test("trailers-only grpc-status for gRPC and gRPC-Web clients", () => {
    const message = "Host: 100% wrong/é";
    const grpc = rejectionResponse({ status: 403, code: "permission_denied", message }, "application/grpc");
    expect(grpc.status).toBe(200);
    expect(grpc.headers.get("grpc-status")).toBe("7");
    // Spec percent-encoding: only "%" and non-ASCII are escaped.
    expect(grpc.headers.get("grpc-message")).toBe("Host: 100%25 wrong/%C3%A9");
    expect(decodeURIComponent(grpc.headers.get("grpc-message") ?? "")).toBe(message);
    const web = rejectionResponse(
      { status: 413, code: "resource_exhausted", message: "too big" },
      "application/grpc-web+proto",
    );
    expect(web.headers.get("grpc-status")).toBe("8");
    expect(web.headers.get("content-type")).toBe("application/grpc-web+proto");
  });
});
