import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { getLogger } from "@logtape/logtape";
import { processContext } from "../src/context.ts";
import { TokenBucket } from "../src/engine/rate-limiter.ts";
import { DEFAULT_RETRY_OPTIONS } from "../src/engine/retry-policy.ts";
import type { Segment } from "../src/engine/segment.ts";
import { fetchSegment, type WorkerActivity } from "../src/engine/worker.ts";
import { bytesOf } from "./helpers/bytes.ts";
import { tempDirs } from "./helpers/cli.ts";
import { heldRateRatio } from "./helpers/held-rate.ts";
import { type Origin, startOrigin } from "./helpers/origin.ts";

// --limit against the project's in-process origin (node:http in this Bun process), which answers in large
// chunks (256 KiB writes, read ahead by fetch) as fast as the kernel takes them. nginx: test/get-nginx.test.ts.

let origin: Origin;
const dirs = tempDirs();
beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin.close();
  await dirs.removeAll();
});

/** A bucket that tells each take (bytes, and the wait it gave) to `onTake`. */
class WatchedBucket extends TokenBucket {
  readonly takes: number[] = [];
  onTake: (bytes: number) => void = () => {};
  override take(bytes: number, now: number): number {
    this.takes.push(bytes);
    const wait = super.take(bytes, now);
    this.onTake(bytes);
    return wait;
  }
}

describe("a connection under --limit", () => {
  test("whose segment is cut (a steal) while its chunk waits for the bucket drops the rest of its answer", async () => {
    const size = 4 * 1024 * 1024;
    const url = origin.serve("/held.bin", { size });
    // 1 MiB/s: the first chunk (fetch hands over a few hundred KiB at once) waits a few hundred ms.
    const bucket = new WatchedBucket(1 << 20, performance.now());
    const segment: Segment = { id: 0, start: 0, end: size - 1, done: 0 };
    const stored: Uint8Array[] = [];
    // While the first chunk waits, a steal ends the segment with that chunk: the rest is another's.
    bucket.onTake = (bytes) => {
      if (bucket.takes.length === 1) setTimeout(() => (segment.end = bytes - 1), 0);
    };
    const now = performance.now();
    const activity: WorkerActivity = {
      worker: 0,
      segment,
      state: "active",
      retries: 0,
      lastByteAt: now,
      attempt: new AbortController(),
      received: 0,
      startedAt: now,
      bytesPerSecond: 0,
      slowSince: undefined,
    };
    await fetchSegment({
      ctx: processContext(),
      remote: {
        url,
        totalBytes: size,
        acceptsRanges: true,
        etag: undefined,
        lastModified: undefined,
        dispositionName: undefined,
      },
      mode: "range",
      headers: [],
      credentialOrigin: new URL(url).origin,
      headTimeoutMs: 10_000,
      writer: {
        write: (chunk) => {
          stored.push(chunk.slice());
          return undefined;
        },
        readableBytes: 0,
        flush: async () => {},
        close: async () => {},
      },
      limits: [bucket],
      activity,
      retry: DEFAULT_RETRY_OPTIONS,
      random: Math.random,
      signal: new AbortController().signal,
      firstResponse: undefined,
      onBytes: () => {},
      onFirstByte: () => {},
      log: getLogger(["dlm", "test"]),
    });
    const first = bucket.takes[0] ?? 0;
    expect(first).toBeGreaterThan(0);
    expect(segment.done).toBe(first);
    expect(Buffer.concat(stored).equals(Buffer.from(bytesOf(0, first - 1)))).toBe(true);
    // Read on, the answer's unwanted rest would have been charged to the limit chunk by chunk (4 MiB: 4 s).
    expect(bucket.takes).toEqual([first]);
  });
});

describe("--limit against the in-process origin", () => {
  // About 2.5 s at the limit each: long enough that a lost quarter second (one burst, one gap) shows.
  test.each([
    [1, 1024 * 1024],
    [4, 1024 * 1024],
    [16, 4 * 1024 * 1024],
  ])("holds the whole download to the rate within 10%% with -c %d at %d B/s", async (connections, rate) => {
    const size = Math.round(rate * 2.5);
    const path = `/limited-${connections}.bin`;
    const url = origin.serve(path, { size });
    const ratio = await heldRateRatio({ url, size, connections, rate, cwd: await dirs.fresh() });
    expect(ratio).toBeGreaterThan(0.9);
    expect(ratio).toBeLessThan(1.1);
    // No byte asked twice: a steal from a connection whose chunk the limiter holds re-fetches it (and what
    // the kernel buffered behind it), all charged to the limit; that cost 20-40% of it, in some runs only.
    expect(origin.stats.bytesByPath.get(path)).toBe(size);
  });
});
