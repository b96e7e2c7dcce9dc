import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { getLogger } from "@logtape/logtape";
import { processContext } from "../src/context.ts";
import { TokenBucket } from "../src/engine/rate-limiter.ts";
import { DEFAULT_RETRY_OPTIONS } from "../src/engine/retry-policy.ts";
import type { Segment } from "../src/engine/segment.ts";
import { fetchSegment, type WorkerActivity } from "../src/engine/worker.ts";
import { EXIT } from "../src/exit-codes.ts";
import { bytesOf, sha256Of } from "./helpers/bytes.ts";
import { BUN_BIN, MAIN_TS, tempDirs } from "./helpers/cli.ts";
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

/**
 * Runs `dlm get URL -c CONNECTIONS --limit RATE --json` and returns the rate it held over the limit: the
 * file's size over the time from the server's first answer (the start record's elapsedMs) to the end (the
 * result's seconds), both on dlm's own clock, so neither its start-up nor this process reading the pipe late
 * (under load) counts.
 */
async function heldRatio(url: string, size: number, connections: number, rate: number): Promise<number> {
  const cwd = await dirs.fresh();
  const args = ["get", url, "-o", "l.bin", "-c", String(connections), "--limit", String(rate), "--json"];
  const child = Bun.spawn([BUN_BIN, MAIN_TS, ...args], {
    cwd,
    env: { ...process.env, DLM_LOG: "error" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: 30_000,
  });
  const [stdout, stderr] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  expect({ exit: await child.exited, stderr }).toEqual({ exit: EXIT.OK, stderr: "" });
  const records = stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const start = records.find((r) => r["type"] === "start");
  const result = records.at(-1);
  expect(result).toMatchObject({ type: "result", bytes: size, sha256: sha256Of(size) });
  const seconds = (result?.["seconds"] as number) - (start?.["elapsedMs"] as number) / 1000;
  return size / seconds / rate;
}

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
    const ratio = await heldRatio(url, size, connections, rate);
    expect(ratio).toBeGreaterThan(0.9);
    expect(ratio).toBeLessThan(1.1);
    // No byte asked twice: a steal from a connection whose chunk the limiter holds re-fetches it (and what
    // the kernel buffered behind it), all charged to the limit; that cost 20-40% of it, in some runs only.
    expect(origin.stats.bytesByPath.get(path)).toBe(size);
  });
});
