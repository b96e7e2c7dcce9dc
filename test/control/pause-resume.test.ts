import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256Of } from "../helpers/bytes.ts";
import { type Origin, startOrigin } from "../helpers/origin.ts";
import { planeFor, published, reached } from "./fixture.ts";

// Pause and resume through the HTTP API of a real download: the origin stops serving, the file comes out right.
let origin: Origin;
let dir: string;
const SIZE = 16 * 1024 * 1024;

beforeAll(async () => {
  origin = await startOrigin();
  dir = await mkdtemp(join(tmpdir(), "dlm-pause-api-"));
});

afterAll(async () => {
  await origin.close();
  await rm(dir, { recursive: true, force: true });
});

describe("POST /pause and /resume on a running download", () => {
  test("pause stops every worker within 1 s and the origin's byte counter; resume finishes with the right SHA-256", async () => {
    const url = origin.serve("/paused.bin", { size: SIZE, seed: 7, throttleBytesPerSec: 2 * 1024 * 1024 });
    const p = await planeFor(url, dir, "paused.bin", { connections: 4 });
    const api = (method: string, path: string) =>
      fetch(`${p.plane.http}${path}`, { method, headers: { authorization: p.auth } });
    const status = async () => (await (await api("GET", "/status")).json()) as Record<string, unknown>;
    const hub = p.controller.hub;
    const run = p.controller.run();
    await reached(
      hub,
      "4 connections busy and some bytes",
      (s) => s.activeConnections === 4 && s.bytesDownloaded > 1024 * 1024,
    );

    const pausedAt = performance.now();
    // Subscribed before the pause: the snapshot that shows every worker gone is published when they are.
    const stopped = published(
      hub,
      "workers to stop",
      (s) => s.state === "paused" && s.activeConnections === 0,
    );
    const answer = await api("POST", "/pause");
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ state: "paused", changed: true });
    await stopped;
    expect(performance.now() - pausedAt).toBeLessThan(1000);
    // Every worker gone, seen through the API itself.
    const s = await status();
    expect(s).toMatchObject({ state: "paused", activeConnections: 0, bytesPerSecond: 0 });
    const served = origin.stats.bytesServed;
    expect(served).toBeLessThan(SIZE);
    // Absence of traffic can only be shown over time: three more meter ticks (about 750 ms; 2 MiB/s x 4
    // would be ~6 MiB) published while paused, and the origin served nothing.
    await published(hub, "three ticks while paused", (t) => t.state === "paused", { count: 3 });
    expect(origin.stats.bytesServed).toBe(served);
    expect((await status())["state"]).toBe("paused");

    const resumed = await api("POST", "/resume");
    expect(await resumed.json()).toEqual({ state: "running", changed: true });
    const file = await run;
    expect(file.bytes).toBe(SIZE);
    expect(file.sha256).toBe(sha256Of(SIZE, 7));
    // Resume fetched only what was missing (a little re-fetch of unflushed tails at most).
    expect(origin.stats.bytesServed).toBeLessThan(SIZE * 1.1);
    expect((await status())["state"]).toBe("finished");
    await p.plane.stop();
  });
});
