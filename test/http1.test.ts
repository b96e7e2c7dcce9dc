import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { ChunkVerdict } from "../src/engine/http.ts";
import { dechunk, framingOf, Http1Client, leanClientFor, parseHead } from "../src/engine/http1.ts";
import { NetworkError } from "../src/errors.ts";

describe("parseHead", () => {
  test.each([
    ["HTTP/1.1 206 Partial Content\r\nContent-Length: 5", 206, "Partial Content", "5"],
    ["HTTP/1.0 200 OK\r\ncontent-length:7", 200, "OK", "7"],
    ["HTTP/1.1 404", 404, "", null],
  ])("%j", (text, status, statusText, length) => {
    const head = parseHead(text);
    if (typeof head === "string") throw new Error(head);
    expect(head.status).toBe(status);
    expect(head.statusText).toBe(statusText);
    expect(head.headers.get("content-length")).toBe(length);
  });

  test.each([
    ["HTTP/2 200"],
    ["ICY 200 OK"],
    ["HTTP/1.1 20 OK"],
    ["HTTP/1.1 200 OK\r\nno colon here"],
    ["HTTP/1.1 200 OK\r\n: empty"],
  ])("malformed %j", (text) => {
    expect(typeof parseHead(text)).toBe("string");
  });
});

describe("framingOf", () => {
  const headers = (init: Record<string, string>) => new Headers(init);
  test.each([
    [204, {}, { kind: "none" }],
    [304, { "content-length": "10" }, { kind: "none" }],
    [206, { "content-length": "10" }, { kind: "length", remaining: 10 }],
    [200, { "content-length": "10, 10" }, { kind: "length", remaining: 10 }],
    [200, { "transfer-encoding": "chunked", "content-length": "3" }, { kind: "chunked" }],
    [200, { "transfer-encoding": "gzip" }, { kind: "close" }],
    [200, {}, { kind: "close" }],
  ])("%d %j", (status, init, expected) => {
    expect(framingOf(status, headers(init))).toMatchObject(expected);
  });

  test.each([
    [{ "content-length": "10, 11" }],
    [{ "content-length": "-1" }],
    [{ "content-length": "1e3" }],
    [{ "transfer-encoding": "gzip, chunked" }],
  ])("refuses %j", (init) => {
    expect(typeof framingOf(200, headers(init))).toBe("string");
  });
});

describe("dechunk", () => {
  const encoded = new TextEncoder().encode(
    "5;ext=1\r\nhello\r\n1\r\n \r\nC\r\nworld, again\r\n0\r\nTrailer: x\r\n\r\n",
  );

  test("decodes the same bytes however the input is split", () => {
    for (let split = 1; split <= encoded.length; split++) {
      const state = { remaining: 0, phase: "size" as const, line: "" };
      const out: number[] = [];
      let completed = 0;
      for (let at = 0; at < encoded.length; at += split) {
        const reason = dechunk(
          state,
          encoded.subarray(at, at + split),
          (bytes) => out.push(...bytes),
          () => completed++,
        );
        expect(reason).toBeUndefined();
      }
      expect(new TextDecoder().decode(new Uint8Array(out))).toBe("hello world, again");
      expect(completed).toBe(1);
    }
  });

  test.each([["zz\r\n"], ["5\r\nhelloXX\r\n"]])("malformed %j", (text) => {
    const state = { remaining: 0, phase: "size" as const, line: "" };
    expect(
      dechunk(
        state,
        new TextEncoder().encode(text),
        () => undefined,
        () => undefined,
      ),
    ).toBeString();
  });
});

describe("leanClientFor", () => {
  test.each([
    ["http://127.0.0.1/x", {}, true],
    ["https://127.0.0.1/x", {}, true],
    ["https://127.0.0.1/x", { https_proxy: "http://proxy:3128" }, false],
    ["https://127.0.0.1/x", { http_proxy: "http://proxy:3128" }, true],
    ["ftp://127.0.0.1/x", {}, false],
    ["http://user:pw@127.0.0.1/x", {}, false],
    ["http://127.0.0.1/x", { http_proxy: "http://proxy:3128" }, false],
    ["http://127.0.0.1/x", { DLM_HTTP_CLIENT: "fetch" }, false],
  ])("%s %j", (url, env, lean) => {
    expect(leanClientFor(url, env) !== undefined).toBe(lean);
  });
});

describe("Http1Client against a real server", () => {
  let server: Server;
  let base: string;
  const sockets = new Set<Socket>();
  const body = new Uint8Array(3 << 20).map((_, i) => (i * 7) & 0xff);

  beforeAll(async () => {
    server = createServer((req, res) => {
      const path = req.url ?? "";
      if (path === "/redirect") {
        res.writeHead(302, { location: "/length" }).end();
      } else if (path === "/length") {
        res.writeHead(200, { "content-length": String(body.length) }).end(body);
      } else if (path === "/chunked") {
        res.writeHead(200);
        for (let at = 0; at < body.length; at += 100_000) res.write(body.subarray(at, at + 100_000));
        res.end();
      } else if (path === "/close") {
        res.writeHead(200, { connection: "close" });
        res.end(body);
      } else if (path === "/cut") {
        res.writeHead(200, { "content-length": String(body.length) });
        res.write(body.subarray(0, 1000), () => res.socket?.destroy());
      } else {
        res.writeHead(404, { "content-length": "0" }).end();
      }
    });
    server.on("connection", (socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  const collect = async (client: Http1Client, path: string, verdict?: (n: number) => ChunkVerdict) => {
    const response = await client.get(`${base}${path}`, new Headers(), new AbortController().signal);
    const parts: Uint8Array[] = [];
    let calls = 0;
    const outcome = await response.pipe((chunk) => {
      parts.push(chunk.slice());
      return verdict?.(++calls) ?? "more";
    });
    return { response, outcome, bytes: Buffer.concat(parts) };
  };

  test.each(["/length", "/chunked", "/close", "/redirect"])("reads %s whole", async (path) => {
    const client = new Http1Client();
    const { response, outcome, bytes } = await collect(client, path);
    expect(response.status).toBe(200);
    expect(outcome).toBe("ended");
    expect(Buffer.compare(bytes, Buffer.from(body))).toBe(0);
    client.close();
  });

  test("reuses one keep-alive connection for consecutive requests", async () => {
    const client = new Http1Client();
    let accepted = 0;
    const count = () => accepted++;
    server.on("connection", count);
    for (let i = 0; i < 3; i++) expect((await collect(client, "/length")).bytes.length).toBe(body.length);
    server.off("connection", count);
    expect(accepted).toBe(1);
    client.close();
  });

  test("a pooled connection the server closed is replaced without an error", async () => {
    const client = new Http1Client();
    await collect(client, "/length");
    const closed = [...sockets].map((socket) => new Promise((done) => socket.once("close", done)));
    for (const socket of sockets) socket.destroy();
    // Whether the client has seen the close yet or learns it on its next write, the GET must succeed.
    await Promise.all(closed);
    const again = await collect(client, "/length");
    expect(again.bytes.length).toBe(body.length);
    client.close();
  });

  test("a consumer's promise holds the body in order (back-pressure)", async () => {
    const client = new Http1Client();
    const { bytes, outcome } = await collect(client, "/length", (n) => (n % 2 === 0 ? Bun.sleep(5) : "more"));
    expect(outcome).toBe("ended");
    expect(Buffer.compare(bytes, Buffer.from(body))).toBe(0);
    client.close();
  });

  test("stop drops the rest and says so", async () => {
    const client = new Http1Client();
    const { outcome, bytes } = await collect(client, "/length", () => "stop");
    expect(outcome).toBe("stopped");
    expect(bytes.length).toBeLessThan(body.length);
    client.close();
  });

  test("a body cut short rejects with a NetworkError naming the URL", async () => {
    const client = new Http1Client();
    const error = await collect(client, "/cut").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect(String((error as Error).message)).toContain("/cut");
    client.close();
  });

  test("a consumer that throws fails the exchange with its error", async () => {
    const client = new Http1Client();
    const response = await client.get(`${base}/length`, new Headers(), new AbortController().signal);
    const boom = new Error("disk full");
    await expect(
      response.pipe(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    client.close();
  });

  test("an abort rejects with the signal's reason", async () => {
    const client = new Http1Client();
    const controller = new AbortController();
    const response = await client.get(`${base}/length`, new Headers(), controller.signal);
    const reason = new Error("paused");
    const piping = response.pipe(() => {
      controller.abort(reason);
      return "more";
    });
    await expect(piping).rejects.toBe(reason);
    client.close();
  });

  test("connection refused is a NetworkError", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const client = new Http1Client();
    const error = await client
      .get(`http://127.0.0.1:${port}/x`, new Headers(), new AbortController().signal)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as Error).message).toContain("refused");
  });

  test("an already aborted signal rejects before connecting", async () => {
    const client = new Http1Client();
    const controller = new AbortController();
    const reason = new Error("cancelled");
    controller.abort(reason);
    let accepted = 0;
    const count = () => accepted++;
    server.on("connection", count);
    await expect(client.get(`${base}/length`, new Headers(), controller.signal)).rejects.toBe(reason);
    server.off("connection", count);
    expect(accepted).toBe(0);
  });
});

describe("Http1Client and HTTP/1.0", () => {
  test("an HTTP/1.0 answer without keep-alive is not reused", async () => {
    let accepted = 0;
    const listener = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open: () => {
          accepted++;
        },
        data: (socket) => {
          // Answers and leaves the connection open: only the version says it must not be reused.
          socket.write("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        },
      },
    });
    try {
      const client = new Http1Client();
      for (let i = 0; i < 2; i++) {
        const response = await client.get(
          `http://127.0.0.1:${listener.port}/`,
          new Headers(),
          new AbortController().signal,
        );
        const parts: number[] = [];
        const outcome = await response.pipe((chunk) => {
          parts.push(...chunk);
          return "more";
        });
        expect(outcome).toBe("ended");
        expect(new TextDecoder().decode(new Uint8Array(parts))).toBe("hello");
      }
      expect(accepted).toBe(2);
      client.close();
    } finally {
      listener.stop(true);
    }
  });
});
