import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { OutputExistsError, StorageError, UsageError } from "../../src/errors.ts";
import { DownloadService } from "../../src/gen/dlm/v1/download_pb.ts";
import { startServiceListener } from "../../src/interfaces/http/service-listener.ts";
import { errorInterceptor } from "../../src/interfaces/rpc/error-interceptor.ts";
import { startRpcListener } from "../../src/interfaces/rpc/rpc-listener.ts";
import type { RunningListener } from "../../src/interfaces/shared/listener.ts";
import { INTERNAL_MESSAGE, RPC_CODES, toConnectError } from "../../src/interfaces/shared/rpc-codes.ts";
import { logger } from "../../src/log.ts";

// One code table for every failure, on both listeners: what a call throws reaches the client with the code of
// its kind, the same over HTTP/1.1 (Elysia) and h2c (node:http2), in a unary call and in the middle of a stream.

describe("the code table", () => {
  test("names every failure kind errors.ts defines", () => {
    const text = readFileSync(join(import.meta.dir, "../../src/errors.ts"), "utf8");
    const kinds = [...text.matchAll(/readonly code = "([a-z_]+)"/g)].map((m) => m[1] ?? "");
    expect(kinds.length).toBeGreaterThan(10);
    expect(kinds.filter((kind) => RPC_CODES[kind] === undefined)).toEqual([]);
  });

  test("a DlmError keeps its one-line message; anything else is INTERNAL without its text", () => {
    const exists = toConnectError(new OutputExistsError("/d/x already exists", { file: "/d/x" }));
    expect([exists.code, exists.rawMessage]).toEqual([Code.AlreadyExists, "/d/x already exists"]);
    const bug = toConnectError(new TypeError("cannot read properties of undefined (secret internals)"));
    expect([bug.code, bug.rawMessage]).toEqual([Code.Internal, INTERNAL_MESSAGE]);
  });
});

const TOKEN = "t0ken-for-codes";
const listeners: RunningListener[] = [];

/** A DownloadService whose calls fail the way each test names. */
function failingRoutes(router: import("@connectrpc/connect").ConnectRouter): void {
  router.service(DownloadService, {
    add() {
      throw new StorageError("/d/x: no space left on device");
    },
    get() {
      throw new OutputExistsError("/d/x already exists", { file: "/d/x" });
    },
    list() {
      throw new UsageError("labels: too many");
    },
    stats() {
      throw new Error("a bug with internals");
    },
    async *watchAll() {
      yield { seq: 1n, event: { case: "removed", value: 1n } };
      throw new StorageError("/d: read-only file system");
    },
  });
}

beforeAll(async () => {
  const rpcOptions = { interceptors: [errorInterceptor(logger("rpc"))] };
  const common = {
    token: TOKEN,
    host: "127.0.0.1",
    port: 0,
    maxBodyBytes: 4096,
    routes: failingRoutes,
    rpcOptions,
  };
  listeners.push(startServiceListener({ ...common, idleTimeoutSeconds: 10, log: logger("http") }));
  listeners.push(await startRpcListener({ ...common, log: logger("rpc") }));
});

afterAll(async () => {
  await Promise.all(listeners.map((l) => l.stop()));
});

const auth: Interceptor = (next) => (request) => {
  request.header.set("authorization", `Bearer ${TOKEN}`);
  return next(request);
};

async function codeOf(call: () => Promise<unknown>): Promise<[Code | undefined, string]> {
  try {
    await call();
    return [undefined, ""];
  } catch (error) {
    const e = ConnectError.from(error);
    return [e.code, e.rawMessage];
  }
}

for (const [name, index, httpVersion] of [
  ["HTTP/1.1 listener", 0, "1.1"],
  ["h2c listener", 1, "2"],
] as const) {
  test(`${name}: every failure reaches the client with its kind's code`, async () => {
    const client = createClient(
      DownloadService,
      createConnectTransport({ baseUrl: listeners[index]?.url ?? "", httpVersion, interceptors: [auth] }),
    );
    expect(await codeOf(() => client.add({}))).toEqual([
      Code.ResourceExhausted,
      "/d/x: no space left on device",
    ]);
    expect(await codeOf(() => client.get({}))).toEqual([Code.AlreadyExists, "/d/x already exists"]);
    expect(await codeOf(() => client.list({}))).toEqual([Code.InvalidArgument, "labels: too many"]);
    expect(await codeOf(() => client.stats({}))).toEqual([Code.Internal, INTERNAL_MESSAGE]);
    const seen: bigint[] = [];
    const streamed = await codeOf(async () => {
      for await (const message of client.watchAll({})) seen.push(message.seq);
    });
    expect([seen, ...streamed]).toEqual([[1n], Code.ResourceExhausted, "/d: read-only file system"]);
  });
}
