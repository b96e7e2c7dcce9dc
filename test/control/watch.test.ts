import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createConnectTransport as nodeConnect,
  createGrpcTransport as nodeGrpc,
  createGrpcWebTransport as nodeGrpcWeb,
} from "@connectrpc/connect-node";
import {
  createConnectTransport as webConnect,
  createGrpcWebTransport as webGrpcWeb,
} from "@connectrpc/connect-web";
import { CancelledError } from "../../src/errors.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import { envelope, type Plane, planeFor, waitFor } from "./fixture.ts";
import { connectWatch, curlWatch, expectWatchedToEnd, grpcJsWatch } from "./watch-clients.ts";

// ProgressService.Watch served to real clients on both listeners: gRPC (grpc-js under Node, connect-node),
// Connect (connect-node over h2c, connect-web over fetch, curl) and gRPC-Web (connect-node, connect-web).
let origin: Origin;
let dir: string;
let requestFile: string;
const SIZE = 12 * 1024 * 1024;

beforeAll(async () => {
  origin = await startOrigin();
  dir = await mkdtemp(join(tmpdir(), "dlm-watch-"));
  requestFile = join(dir, "watch-request.bin");
  await writeFile(requestFile, envelope({}));
});

afterAll(async () => {
  await origin.close();
  await rm(dir, { recursive: true, force: true });
});

/** A download of SIZE bytes paced to last about 1.5 s over 2 connections. */
async function pacedPlane(name: string): Promise<Plane> {
  const url = origin.serve(`/${name}`, { size: SIZE, throttleBytesPerSec: 4 * 1024 * 1024 });
  return planeFor(url, dir, name, { connections: 2 });
}

function transports(p: Plane) {
  return {
    "connect-node Connect (h2c)": nodeConnect({ baseUrl: p.plane.rpc, httpVersion: "2" }),
    "connect-node gRPC (h2c)": nodeGrpc({ baseUrl: p.plane.rpc }),
    "connect-node gRPC-Web (h2c)": nodeGrpcWeb({ baseUrl: p.plane.rpc, httpVersion: "2" }),
    "connect-web Connect (HTTP/1.1, fetch)": webConnect({ baseUrl: p.plane.http }),
    "connect-web gRPC-Web (HTTP/1.1, fetch)": webGrpcWeb({ baseUrl: p.plane.http }),
  };
}

describe("every client follows a download to its end", () => {
  test("8 clients, both listeners: the current snapshot at once, then ticks rising to the total, then OK", async () => {
    const p = await pacedPlane("all-clients.bin");
    const watchers: Record<string, Promise<Awaited<ReturnType<typeof connectWatch>>>> = {};
    for (const [name, transport] of Object.entries(transports(p))) {
      watchers[name] = connectWatch(transport, p.plane.token);
    }
    watchers["grpc-js (Node)"] = grpcJsWatch(p.plane.rpc, p.plane.token);
    watchers["curl Connect h2c"] = curlWatch(p.plane.rpc, p.plane.token, requestFile, true);
    watchers["curl Connect HTTP/1.1"] = curlWatch(p.plane.http, p.plane.token, requestFile, false);
    await waitFor("8 watchers subscribed", () => p.controller.hub.subscriberCount() === 8);
    const file = await p.controller.run();
    expect(file.bytes).toBe(SIZE);
    for (const [name, outcome] of Object.entries(watchers)) {
      const seen = await outcome;
      try {
        expectWatchedToEnd(seen, SIZE);
        // Subscribed before the run: the first message is the state at that moment.
        expect(seen.messages[0]).toMatchObject({ bytes: 0, state: "STATE_PROBING" });
        // Ticks every 250 ms over a ~1.5 s download.
        expect(seen.messages.length).toBeGreaterThanOrEqual(4);
      } catch (error) {
        throw new Error(`${name}: ${(error as Error).message}`);
      }
    }
    await p.plane.stop();
    expect(p.controller.hub.subscriberCount()).toBe(0);
  });
});

describe("a stream ends with the download's outcome", () => {
  test("cancel: a CANCELLED message, then CANCELED for Connect, gRPC and curl clients", async () => {
    const p = await pacedPlane("cancelled.bin");
    const cancelAt = (seen: { bytes: number }) => {
      if (seen.bytes > 0 && p.controller.state === "running") p.controller.command("cancel", "test");
    };
    const connect = connectWatch(nodeConnect({ baseUrl: p.plane.rpc, httpVersion: "2" }), p.plane.token, {
      onMessage: cancelAt,
    });
    const grpcJs = grpcJsWatch(p.plane.rpc, p.plane.token);
    const curl = curlWatch(p.plane.http, p.plane.token, requestFile, false);
    await waitFor("3 watchers", () => p.controller.hub.subscriberCount() === 3);
    await expect(p.controller.run()).rejects.toBeInstanceOf(CancelledError);
    for (const outcome of [await connect, await grpcJs, await curl]) {
      expect(outcome.code).toBe("canceled");
      expect(outcome.message).toContain("cancelled");
      expect(outcome.messages.at(-1)?.state).toBe("STATE_CANCELLED");
    }
    await p.plane.stop();
  });

  test("failure: a FAILED message, then the matching code (404 from the origin -> FAILED_PRECONDITION)", async () => {
    const url = origin.serve("/missing.bin", { size: 1, status: 404 });
    const p = await planeFor(url, dir, "missing.bin");
    const connect = connectWatch(webConnect({ baseUrl: p.plane.http }), p.plane.token);
    const grpcJs = grpcJsWatch(p.plane.rpc, p.plane.token);
    await waitFor("2 watchers", () => p.controller.hub.subscriberCount() === 2);
    await expect(p.controller.run()).rejects.toThrow("404");
    for (const outcome of [await connect, await grpcJs]) {
      expect(outcome.code).toBe("failed_precondition");
      expect(outcome.message).toContain("404");
      expect(outcome.messages.at(-1)?.state).toBe("STATE_FAILED");
    }
    await p.plane.stop();
  });

  test("pause keeps the stream open with PAUSED ticks; resume carries it on to OK", async () => {
    const p = await pacedPlane("paused.bin");
    let paused = 0;
    const outcome = connectWatch(nodeGrpc({ baseUrl: p.plane.rpc }), p.plane.token, {
      onMessage: (seen) => {
        if (seen.state === "STATE_RUNNING" && seen.bytes > 0 && paused === 0)
          p.controller.command("pause", "test");
        if (seen.state === "STATE_PAUSED" && ++paused === 4) p.controller.command("resume", "test");
      },
    });
    await waitFor("a watcher", () => p.controller.hub.subscriberCount() === 1);
    await p.controller.run();
    const seen = await outcome;
    expectWatchedToEnd(seen, SIZE);
    expect(seen.messages.filter((m) => m.state === "STATE_PAUSED").length).toBeGreaterThanOrEqual(4);
    await p.plane.stop();
  });

  test("the process stopping while paused ends streams with UNAVAILABLE and how to resume", async () => {
    const p = await pacedPlane("stopped.bin");
    let stopping: Promise<void> | undefined;
    const outcome = connectWatch(nodeConnect({ baseUrl: p.plane.rpc, httpVersion: "2" }), p.plane.token, {
      onMessage: (seen) => {
        if (seen.state === "STATE_RUNNING" && seen.bytes > 0) p.controller.command("pause", "test");
        if (seen.state === "STATE_PAUSED") stopping ??= p.plane.stop();
      },
    });
    const grpcJs = grpcJsWatch(p.plane.rpc, p.plane.token);
    await waitFor("2 watchers", () => p.controller.hub.subscriberCount() === 2);
    const run = p.controller.run();
    for (const seen of [await outcome, await grpcJs]) {
      expect(seen.code).toBe("unavailable");
      expect(seen.message).toContain(`dlm resume ${p.output}`);
      expect(seen.messages.at(-1)?.state).toBe("STATE_PAUSED");
    }
    await stopping;
    p.controller.command("cancel", "test");
    await expect(run).rejects.toBeInstanceOf(CancelledError);
  });
});

describe("a watcher that goes away frees its subscription at once", () => {
  test.each([
    "connect-node Connect (h2c)",
    "connect-node gRPC (h2c)",
    "connect-web Connect (HTTP/1.1, fetch)",
  ])("%s, aborted after the first message", async (name) => {
    const p = await planeFor("http://127.0.0.1:9/idle.bin", dir, "idle.bin");
    const transport = transports(p)[name as keyof ReturnType<typeof transports>];
    const abort = new AbortController();
    const outcome = await connectWatch(transport, p.plane.token, {
      signal: abort.signal,
      onMessage: () => abort.abort(),
    });
    expect(outcome.code).toBe("canceled");
    await waitFor("the subscription to be freed", () => p.controller.hub.subscriberCount() === 0, 2000);
    await waitFor("the stream to be closed", () => p.plane.watchers() === 0, 2000);
    await p.plane.stop();
  });

  test("grpc-js cancelling its call, and curl killed, on both listeners", async () => {
    const p = await planeFor("http://127.0.0.1:9/idle2.bin", dir, "idle2.bin");
    const grpc = await grpcJsWatch(p.plane.rpc, p.plane.token, ["--max", "1"]);
    expect(grpc.code).toBe("canceled");
    expect(grpc.messages).toHaveLength(1);
    await waitFor("grpc-js's subscription to be freed", () => p.controller.hub.subscriberCount() === 0, 2000);
    for (const [base, http2] of [
      [p.plane.rpc, true],
      [p.plane.http, false],
    ] as const) {
      const child = Bun.spawn(
        [
          "curl",
          "-sS",
          "-N",
          ...(http2 ? ["--http2-prior-knowledge"] : []),
          "-H",
          `Authorization: ${p.auth}`,
          "-H",
          "content-type: application/connect+json",
          "--data-binary",
          `@${requestFile}`,
          `${base}/dlm.v1.ProgressService/Watch`,
        ],
        { stdout: "ignore", stderr: "ignore" },
      );
      await waitFor("curl to subscribe", () => p.controller.hub.subscriberCount() === 1);
      child.kill("SIGKILL");
      await child.exited;
      await waitFor(
        `curl's subscription (${base}) to be freed`,
        () => p.controller.hub.subscriberCount() === 0,
        2000,
      );
    }
    await p.plane.stop();
  });
});

describe("RPC clients need the token and a Host naming the listener", () => {
  test("grpc-js: UNAUTHENTICATED without the token, PERMISSION_DENIED for a foreign :authority", async () => {
    const p = await planeFor("http://127.0.0.1:9/auth.bin", dir, "auth.bin");
    const port = new URL(p.plane.rpc).port;
    const noToken = await grpcJsWatch(p.plane.rpc, "-");
    expect([noToken.code, noToken.messages.length]).toEqual(["unauthenticated", 0]);
    const wrong = await grpcJsWatch(p.plane.rpc, "not-the-token");
    expect(wrong.code).toBe("unauthenticated");
    const rebound = await grpcJsWatch(p.plane.rpc, p.plane.token, ["--authority", `rebind.example:${port}`]);
    expect([rebound.code, rebound.message]).toEqual(["permission_denied", expect.stringContaining("Host")]);
    expect(p.controller.hub.subscriberCount()).toBe(0);
    await p.plane.stop();
  });

  test("Connect-ES clients on both listeners: UNAUTHENTICATED without the token; a foreign Origin is refused", async () => {
    const p = await planeFor("http://127.0.0.1:9/auth2.bin", dir, "auth2.bin");
    for (const [name, transport] of Object.entries(transports(p))) {
      const outcome = await connectWatch(transport, undefined);
      expect([name, outcome.code, outcome.messages.length]).toEqual([name, "unauthenticated", 0]);
    }
    // What a page on another site would send (Bun's fetch lets a test set Origin; browsers set it themselves).
    const fromEvilPage = Object.assign(
      (input: RequestInfo | URL, init?: RequestInit) => {
        const headers = new Headers(init?.headers);
        headers.set("origin", "http://evil.example");
        return fetch(input, { ...init, headers });
      },
      { preconnect: fetch.preconnect },
    );
    const foreign = webConnect({ baseUrl: p.plane.http, fetch: fromEvilPage });
    expect((await connectWatch(foreign, p.plane.token)).code).toBe("permission_denied");
    await p.plane.stop();
  });
});
