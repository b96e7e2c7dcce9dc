import { describe, expect, test } from "bun:test";
import { delayUntilAll, TokenBucket, takeFromAll } from "../src/engine/rate-limiter.ts";
import { Scheduler } from "../src/engine/scheduler.ts";

const MiB = 1 << 20;

/** Simulates one reader on virtual time: chunks of the given sizes, waiting as told; returns bytes/s. */
function simulate(buckets: TokenBucket[], chunks: () => number, seconds: number, readMs = 1): number {
  let now = 0;
  let bytes = 0;
  while (now < seconds * 1000) {
    const size = chunks();
    bytes += size;
    now += readMs;
    now += takeFromAll(buckets, size, now);
  }
  return bytes / (now / 1000);
}

describe("TokenBucket", () => {
  test("after a quiet spell a burst passes at once; past it the wait is what pays the debt back", () => {
    // Made at -2000: two quiet seconds, credited up to the burst only.
    const bucket = new TokenBucket(1000, -2000, 1000);
    expect(bucket.take(600, 0)).toBe(0);
    expect(bucket.take(600, 0)).toBe(200);
    // 500 ms later 500 tokens came back: debt 200 → 300 in hand.
    expect(bucket.take(300, 500)).toBe(0);
  });

  test("a new bucket starts empty: its first bytes are paid for, so N bytes take N / rate", () => {
    // Full from the start, a download's first quarter second passed free: 2.5 s at the limit took 2.25 s.
    const bucket = new TokenBucket(1 << 20, 0);
    expect(bucket.take(256 * 1024, 0)).toBe(250);
    const fresh = new TokenBucket(1 << 20, 0);
    let now = 0;
    for (let i = 0; i < 40; i++) now += 1 + fresh.take(64 * 1024, now);
    // 2.5 MiB at 1 MiB/s: 2.5 s, plus the 1 ms per read the simulated reads take.
    expect(now).toBeGreaterThanOrEqual(2500);
  });

  test("rate 0 is no limit", () => {
    expect(new TokenBucket(0, 0).take(10_000_000, 0)).toBe(0);
  });

  test.each([
    ["64 KiB chunks at 1 MiB/s", 1 << 20, () => 65_536],
    ["random chunks at 300 KB/s", 300_000, () => 1 + Math.floor(Math.random() * 131_072)],
    ["1 MiB chunks at 2 MiB/s (larger than the burst)", 2 << 20, () => 1 << 20],
  ])("holds the rate within ±3%% over 10 s (the issue asks ±5%%): %s", (_name, rate, chunks) => {
    // The bucket starts empty, so no first burst passes free.
    const measured = simulate([new TokenBucket(rate, 0)], chunks, 10);
    expect(Math.abs(measured / rate - 1)).toBeLessThan(0.03);
  });

  test("a change of rate applies from then on", () => {
    const bucket = new TokenBucket(1000, -100, 100);
    bucket.take(100, 0);
    bucket.setRate(4000, 0, 100);
    expect(bucket.take(400, 0)).toBe(100);
    bucket.setRate(0, 100);
    expect(bucket.take(1_000_000, 100)).toBe(0);
  });

  test("a reader's own share of the debt: later takes do not lengthen it; a lifted or raised limit shortens it", () => {
    const bucket = new TokenBucket(1000, -100, 100);
    expect(bucket.take(1100, 0)).toBe(1000);
    const first = bucket.debtEnd();
    // Another reader takes 1000 more: it waits 2 s, the first still 1 s.
    expect(bucket.take(1000, 0)).toBe(2000);
    expect(bucket.delayUntil(first, 0)).toBe(1000);
    expect(bucket.delayUntil(first, 500)).toBe(500);
    // Raised to 2000/s at 500 ms: the rest of the first share (500 bytes) takes 250 ms.
    bucket.setRate(2000, 500, 100);
    expect(bucket.delayUntil(first, 500)).toBe(250);
    // Lifted: no wait at all.
    bucket.setRate(0, 600);
    expect(bucket.delayUntil(first, 600)).toBe(0);
    const open = new TokenBucket(0, 0);
    const global = new TokenBucket(1000, -100, 100);
    global.take(1100, 0);
    expect(delayUntilAll([open, global], [open.debtEnd(), global.debtEnd()], 0)).toBe(1000);
  });

  test("a reader's mark is reached once the debt is paid, however long the bucket then sits at its burst", () => {
    const bucket = new TokenBucket(1000, 0, 100);
    bucket.take(500, 0);
    const mark = bucket.debtEnd();
    // Paid at 500 ms; the tokens stop at the burst at 600 ms, and the count they are added on stops with them.
    expect(bucket.delayUntil(mark, 400)).toBe(100);
    expect(bucket.delayUntil(mark, 5000)).toBe(0);
    // A later reader's mark is reached too, after its own debt: nothing waits on credit that never comes.
    bucket.take(300, 5000);
    expect(bucket.delayUntil(bucket.debtEnd(), 5000)).toBe(200);
    expect(bucket.delayUntil(bucket.debtEnd(), 5200)).toBe(0);
  });

  test("under a global and a per-download bucket the slower one rules, and both are charged", () => {
    const global = new TokenBucket(1 << 20, 0);
    const own = new TokenBucket(256 * 1024, 0);
    const measured = simulate([global, own], () => 32_768, 10);
    expect(Math.abs(measured / (256 * 1024) - 1)).toBeLessThan(0.03);
    // Two readers sharing the global bucket split it.
    let now = 0;
    let bytes = 0;
    const shared = new TokenBucket(1 << 20, 0);
    const times = [0, 0];
    while (Math.min(...times) < 10_000) {
      const reader = (times[0] ?? 0) <= (times[1] ?? 0) ? 0 : 1;
      now = (times[reader] ?? 0) + 1;
      bytes += 65_536;
      times[reader] = now + shared.take(65_536, now);
    }
    // Excess: the chunk the other reader has in flight.
    expect(Math.abs(bytes / (Math.min(...times) / 1000) / (1 << 20) - 1)).toBeLessThan(0.04);
  });
});

describe("the scheduler under a speed limit", () => {
  // Three connections on 1 MiB each, a fourth idle: its end-game steal. Connection 2 has stored nothing for
  // 800 ms, as when the limiter holds its first chunk (fetch hands over a few hundred KiB at once).
  function endGame(waiting: boolean) {
    const segments = [0, 1, 2].map((id) => ({ id, start: id * MiB, end: (id + 1) * MiB - 1, done: 1 }));
    const options = {
      mode: "range" as const,
      connections: 4,
      minSplitBytes: 256 * 1024,
      stallTimeoutMs: 30_000,
    };
    const s = new Scheduler(segments, options, 0);
    s.setPaced(true);
    for (const worker of [0, 1, 2]) {
      s.next(worker, 0);
      s.firstByte(worker, 10);
    }
    for (let now = 100; now <= 800; now += 100) {
      for (const segment of segments.slice(0, 2)) segment.done = Math.min(MiB, segment.done + 128 * 1024);
      s.tick(now, (worker) => ({ lastByteAt: now, waiting: waiting && worker === 2 }));
    }
    return s.next(3, 800);
  }

  test("no steal from a receiving connection: its bytes may be held by the limiter, not missing", () => {
    // It was robbed of its whole remainder, then read its unwanted answer out, charged to the limit: 0.6x.
    expect(endGame(false)).toBeUndefined();
  });

  test("a connection waiting out a backoff is still stolen from", () => {
    expect(endGame(true)).toMatchObject({ kind: "stolen", victim: { id: 2 } });
  });
});
