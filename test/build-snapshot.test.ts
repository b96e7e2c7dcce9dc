import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { Controller } from "../src/control/controller.ts";
import type { EngineStatus } from "../src/engine/download.ts";
import type { WorkerActivity } from "../src/engine/worker.ts";
import { buildSnapshot, displayUrl, STALLED_SHARE } from "../src/progress/build-snapshot.ts";
import { RateMeter } from "../src/progress/meter.ts";
import type { SegmentProgress } from "../src/progress/snapshot.ts";
import { quietContext, requestFor } from "./control/fixture.ts";
import { sha256Of } from "./helpers/bytes.ts";
import { makeTempDir, removeDir } from "./helpers/cli.ts";
import { type Origin, startOrigin } from "./helpers/origin.ts";

// What a snapshot says of each connection is the engine's own view: its rate, its slow judgement, and
// `stalled` for a connection silent for half the stall timeout.
const STALL_MS = 2000;

function activity(worker: number, lastByteAt: number, extra: Partial<WorkerActivity> = {}): WorkerActivity {
  return {
    worker,
    segment: { id: worker, start: worker * 100, end: worker * 100 + 99, done: 10 },
    state: "active",
    retries: 0,
    lastByteAt,
    attempt: new AbortController(),
    received: 10,
    startedAt: 0,
    bytesPerSecond: 1000 * (worker + 1),
    slowSince: undefined,
    ...extra,
  };
}

function segmentsAt(nowMs: number, activities: WorkerActivity[]): readonly SegmentProgress[] {
  const status: EngineStatus = {
    phase: "running",
    bytesDone: 0,
    bytesThisRun: 0,
    totalBytes: 300,
    segments: activities.map((a) => a.segment),
    activity: activities,
  };
  return buildSnapshot({
    output: "/tmp/x",
    url: "http://127.0.0.1:9/x",
    state: "running",
    status,
    meter: new RateMeter(),
    nowMs,
    stallTimeoutMs: STALL_MS,
    elapsedMs: nowMs,
    error: undefined,
  }).segments;
}

describe("buildSnapshot, per connection", () => {
  test("rate and slow flag are the engine's, carried as they are", () => {
    const [a, b] = segmentsAt(100, [activity(0, 100), activity(1, 100, { slowSince: 50 })]);
    expect([a?.bytesPerSecond, a?.slow, b?.bytesPerSecond, b?.slow]).toEqual([1000, false, 2000, true]);
  });

  test("stalled from half the stall timeout of silence; retrying stays retrying", () => {
    const half = STALL_MS * STALLED_SHARE;
    const states = segmentsAt(10_000, [
      activity(0, 10_000 - half + 1),
      activity(1, 10_000 - half),
      activity(2, 0, { state: "retrying" }),
    ]).map((s) => s.state);
    expect(states).toEqual(["active", "stalled", "retrying"]);
  });
});

describe("buildSnapshot, per source", () => {
  const stat = {
    connections: 0,
    bytesPerSecond: undefined,
    maxConnections: undefined,
    usefulConnections: undefined,
    errors: 0,
    ttfbMs: undefined,
  };

  test("each source: its state and bytes from the scheduler, rate and connections from the segments naming it", () => {
    // Workers 0 and 2 fetch from the mirror, worker 1 from the URL given.
    const activities = [activity(0, 100), activity(1, 100), activity(2, 100, { state: "retrying" })];
    const status: EngineStatus = {
      phase: "running",
      bytesDone: 0,
      bytesThisRun: 0,
      totalBytes: 300,
      segments: activities.map((a) => a.segment),
      activity: activities,
      sources: [
        { ...stat, id: 0, state: "active", bytes: 70, url: "http://u:p@127.0.0.1:9/x?sig=1#f" },
        { ...stat, id: 1, state: "demoted", bytes: 30, url: "https://mirror.example/m/x?token=t" },
        { ...stat, id: 2, state: "dropped", bytes: 0, url: "not a url" },
      ],
      sourceOf: (worker) => (worker === 1 ? 0 : 1),
    };
    const snapshot = buildSnapshot({
      output: "/tmp/x",
      url: "http://127.0.0.1:9/x",
      state: "running",
      status,
      meter: new RateMeter(),
      nowMs: 100,
      stallTimeoutMs: STALL_MS,
      elapsedMs: 100,
      error: undefined,
    });
    expect(snapshot.segments.map((s) => s.source)).toEqual([1, 0, 1]);
    expect(snapshot.sources).toEqual([
      {
        id: 0,
        url: "http://127.0.0.1:9/x",
        state: "active",
        bytes: 70,
        bytesPerSecond: 2000,
        connections: 1,
      },
      {
        id: 1,
        url: "https://mirror.example/m/x",
        state: "demoted",
        bytes: 30,
        bytesPerSecond: 1000 + 3000,
        connections: 2,
      },
      { id: 2, url: "", state: "dropped", bytes: 0, bytesPerSecond: 0, connections: 0 },
    ]);
  });

  test("a segment nobody fetches names no source; no engine yet, no sources", () => {
    const status: EngineStatus = {
      phase: "running",
      bytesDone: 0,
      bytesThisRun: 0,
      totalBytes: 100,
      segments: [{ id: 0, start: 0, end: 99, done: 0 }],
      activity: [],
      sourceOf: () => 0,
    };
    const input = {
      output: "/tmp/x",
      url: "http://127.0.0.1:9/x",
      state: "running" as const,
      meter: new RateMeter(),
      nowMs: 0,
      stallTimeoutMs: STALL_MS,
      elapsedMs: 0,
      error: undefined,
    };
    expect(buildSnapshot({ ...input, status }).segments[0]?.source).toBeUndefined();
    expect(buildSnapshot({ ...input, status: undefined }).sources).toEqual([]);
  });

  test("displayUrl keeps origin and path only", () => {
    expect(displayUrl("https://user:pw@h.example:8443/a/b.iso?X-Amz-Signature=s#frag")).toBe(
      "https://h.example:8443/a/b.iso",
    );
  });
});

describe("a real stall", () => {
  let origin: Origin;
  let dir: string;
  beforeAll(async () => {
    origin = await startOrigin();
    dir = await makeTempDir("dlm-stalled-");
  });
  afterAll(async () => {
    await origin.close();
    await removeDir(dir);
  });

  test("a connection the origin stops feeding shows stalled, then is retried, and the file comes out right", async () => {
    const size = 1024 * 1024;
    // Paced, so that the rest after the retry lasts long enough for a sample to see it active.
    const url = origin.serve("/stall.bin", {
      size,
      seed: 5,
      stallAfterBytes: 64 * 1024,
      stallTimes: 1,
      throttleBytesPerSec: 1024 * 1024,
    });
    const request = { ...requestFor(url, join(dir, "stall.bin"), 1), stallTimeoutMs: STALL_MS };
    const controller = new Controller(quietContext(dir), request, getLogger(["dlm", "test"]));
    const seen: string[] = [];
    controller.hub.onPublish((s) => {
      const state = s.segments.find((g) => g.worker !== undefined)?.state;
      if (state !== undefined && seen.at(-1) !== state) seen.push(state);
    });
    const file = await controller.run();
    expect(file.sha256).toBe(sha256Of(size, 5));
    const stalled = seen.indexOf("stalled");
    expect(stalled).toBeGreaterThanOrEqual(0);
    // The retry's backoff has full jitter: it may be too short for a 250 ms sample to see `retrying`.
    expect(["retrying", "active"]).toContain(seen[stalled + 1] ?? "none");
    // The stall was answered by a new request from where the bytes stopped (the origin's only stall).
    const ranged = origin.stats.requests.filter((r) => r.range !== undefined && r.range !== "bytes=0-0");
    expect(ranged.length).toBeGreaterThanOrEqual(2);
  }, 30_000);
});
