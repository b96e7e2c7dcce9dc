import { describe, expect, test } from "bun:test";
import { TokenBucket, takeFromAll } from "../src/engine/token-bucket.ts";

describe("TokenBucket", () => {
  test("unlimited never waits", () => {
    const bucket = new TokenBucket(undefined);
    expect(bucket.take(1 << 30, 0)).toBe(0);
  });

  test("a steady reader at the limit settles at exactly the rate", () => {
    // 1 MiB/s; 64 KiB chunks read as soon as allowed: the clock advances by each wait.
    const bucket = new TokenBucket(1 << 20);
    let now = 0;
    let read = 0;
    while (now < 10_000) {
      read += 65536;
      now += Math.max(1, bucket.take(65536, now));
    }
    // Over 10 s: 10 MiB plus at most the first burst (a quarter second) and one chunk.
    expect(read).toBeGreaterThanOrEqual(10 * (1 << 20));
    expect(read).toBeLessThanOrEqual(10 * (1 << 20) + (1 << 18) + 65536);
  });

  // At 1 MiB/s the burst is a quarter second: 256 KiB. A bucket starts empty.
  const R = 1 << 20;

  test("a large chunk is paid for with a longer wait, never split", () => {
    const bucket = new TokenBucket(R);
    expect(bucket.take(R / 4, 0)).toBe(250);
    expect(bucket.take(2 * R, 0)).toBe(2250);
  });

  test("idle time refills up to a quarter second's burst, no more", () => {
    const bucket = new TokenBucket(R);
    bucket.take(0, 0);
    expect(bucket.take(R / 4, 10_000)).toBe(0);
    expect(bucket.take(R / 4, 10_000)).toBe(250);
  });

  test("the rate changes at once; undefined lifts the limit", () => {
    const bucket = new TokenBucket(R);
    bucket.take(R / 4, 0);
    bucket.setRate(4 * R, 0);
    // Owed R/4 + 4R at 4R/s.
    expect(bucket.take(4 * R, 0)).toBe(1063);
    bucket.setRate(undefined, 0);
    expect(bucket.take(1 << 30, 0)).toBe(0);
  });

  test("under several limits the tightest decides", () => {
    const own = new TokenBucket(R);
    const global = new TokenBucket(100 * R);
    expect(takeFromAll([own, global], R / 2, 0)).toBe(500);
  });
});
