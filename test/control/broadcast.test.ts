import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { connect as http2Connect } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createConnectTransport as nodeConnect,
  createGrpcTransport as nodeGrpc,
} from "@connectrpc/connect-node";
import { createConnectTransport as webConnect } from "@connectrpc/connect-web";
import { sha256Of } from "../helpers/bytes.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import { envelope, parseEnvelopes, planeFor, waitFor } from "./fixture.ts";
import { connectWatch, expectWatchedToEnd, type WatchOutcome } from "./watch-clients.ts";

// Broadcast without back-pressure: many watchers each get every (coalesced) tick; none holds the download up.
let origin: Origin;
let dir: string;
const SIZE = 24 * 1024 * 1024;

beforeAll(async () => {
  origin = await startOrigin();
  dir = await mkdtemp(join(tmpdir(), "dlm-broadcast-"));
});

afterAll(async () => {
  await origin.close();
  await rm(dir, { recursive: true, force: true });
});

describe("200 concurrent watchers", () => {
  test("each sees bytes rise monotonically to the total", async () => {
    const url = origin.serve("/broadcast.bin", { size: SIZE, throttleBytesPerSec: 4 * 1024 * 1024 });
    const p = await planeFor(url, dir, "broadcast.bin", { connections: 4 });
    // 160 over the h2c listener (4 HTTP/2 sessions: Connect and gRPC), 40 over HTTP/1.1 (Elysia).
    const transports = [
      nodeConnect({ baseUrl: p.plane.rpc, httpVersion: "2" }),
      nodeConnect({ baseUrl: p.plane.rpc, httpVersion: "2" }),
      nodeGrpc({ baseUrl: p.plane.rpc }),
      nodeGrpc({ baseUrl: p.plane.rpc }),
    ];
    const watchers: Promise<WatchOutcome>[] = [];
    for (let i = 0; i < 160; i++) watchers.push(connectWatch(transports[i % 4]!, p.plane.token));
    const http1 = webConnect({ baseUrl: p.plane.http });
    for (let i = 0; i < 40; i++) watchers.push(connectWatch(http1, p.plane.token));
    await waitFor("200 subscribers", () => p.controller.hub.subscriberCount() === 200, 20_000);

    const file = await p.controller.run();
    expect(file.sha256).toBe(sha256Of(SIZE));
    const outcomes = await Promise.all(watchers);
    for (const [i, outcome] of outcomes.entries()) {
      try {
        expectWatchedToEnd(outcome, SIZE);
      } catch (error) {
        throw new Error(`watcher ${i}: ${(error as Error).message}`);
      }
    }
    await p.plane.stop();
    expect(p.controller.hub.subscriberCount()).toBe(0);
  });
});

describe("a watcher that stops reading", () => {
  test("gets coalesced snapshots: its stream waits on the socket, not a queue; nothing waits for it", async () => {
    const p = await planeFor("http://127.0.0.1:9/never.bin", dir, "stuck.bin");
    // It sends its request, then grants a zero flow-control window: not one DATA byte may reach it.
    const stuck = http2Connect(p.plane.rpc, { settings: { initialWindowSize: 0 } });
    const chunks: Buffer[] = [];
    const stream = stuck.request({
      ":method": "POST",
      ":path": "/dlm.v1.ProgressService/Watch",
      "content-type": "application/connect+json",
      authorization: p.auth,
    });
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    const ended = new Promise<void>((resolve) => stream.on("end", resolve));
    stream.end(envelope({}));
    const reader = connectWatch(nodeConnect({ baseUrl: p.plane.rpc, httpVersion: "2" }), p.plane.token);
    await waitFor("2 subscribers", () => p.controller.hub.subscriberCount() === 2);

    // 2000 ticks, published as fast as the event loop allows: the hub never waits for anyone.
    // With 64 segments a message is a few KiB, so the server's 64 KiB stream buffer fills after a few dozen.
    const segments = Array.from({ length: 64 }, (_, id) => ({
      id,
      start: id * 1_000_000,
      end: id * 1_000_000 + 999_999,
      done: 500_000,
      worker: id % 8,
      state: "active" as const,
      bytesPerSecond: 1_000_000,
      slow: false,
      retries: 0,
    }));
    const base = { ...p.controller.snapshot(), segments };
    const TICKS = 2000;
    const began = performance.now();
    for (let i = 1; i <= TICKS; i++) {
      p.controller.hub.publish({
        ...base,
        state: "running",
        bytesDownloaded: i * 1000,
        totalBytes: TICKS * 1000,
      });
      if (i % 20 === 0) await Bun.sleep(1);
    }
    p.controller.hub.publish({
      ...base,
      state: "finished",
      bytesDownloaded: TICKS * 1000,
      totalBytes: TICKS * 1000,
    });
    const publishMs = performance.now() - began;
    const read = await reader;
    expect(read.code).toBe("ok");
    expect(read.messages.at(-1)).toEqual({
      bytes: TICKS * 1000,
      total: TICKS * 1000,
      state: "STATE_FINISHED",
    });
    // The stuck stream is still open on the server, its handler parked on a full socket buffer.
    expect(p.plane.watchers()).toBe(1);
    expect(chunks).toHaveLength(0);

    // Now it reads: what it gets is what was buffered plus the latest snapshot, not 2000 messages.
    stuck.settings({ initialWindowSize: 1 << 20 });
    await ended;
    const messages = parseEnvelopes(new Uint8Array(Buffer.concat(chunks)));
    const progress = messages.filter((m) => !m.end).map((m) => Number(m.json["bytesDownloaded"]));
    expect(progress.length).toBeLessThan(100);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(messages.at(-2)?.json["state"]).toBe("STATE_FINISHED");
    expect(messages.at(-1)).toEqual({ end: true, json: {} });
    await waitFor("the stuck stream to close", () => p.plane.watchers() === 0);
    expect(publishMs).toBeLessThan(5000);
    stuck.destroy();
    await p.plane.stop();
  });
});
