import { describe, expect, test } from "bun:test";
import {
  type CheckpointPace,
  CheckpointPacer,
  checkpointIntervalMs,
  checkpointPace,
} from "../src/engine/checkpoint-pacer.ts";

const DEFAULT: CheckpointPace = checkpointPace(1000);

describe("checkpointPace", () => {
  test("default: every 100 ms to 1 s, at most a tenth of the time in checkpoints", () => {
    expect(DEFAULT).toEqual({ minMs: 100, maxMs: 1000, maxFsyncShare: 0.1 });
  });
  test("a --checkpoint-interval shorter than 100 ms is both bounds", () => {
    expect(checkpointPace(50)).toEqual({ minMs: 50, maxMs: 50, maxFsyncShare: 0.1 });
  });
  test("a longer --checkpoint-interval only raises the ceiling", () => {
    expect(checkpointPace(5000)).toEqual({ minMs: 100, maxMs: 5000, maxFsyncShare: 0.1 });
  });
});

describe("checkpointIntervalMs", () => {
  test.each([
    // [cost of one checkpoint (ms), interval (ms)]
    [0, 100], // free: as often as allowed
    [5, 100], // an idle SSD
    [10, 100], // exactly a tenth at 100 ms
    [25, 250], // a busy disk: stretched to keep a tenth
    [40, 400],
    [100, 1000], // at the ceiling
    [3000, 1000], // a very busy disk: the promise wins over the share
  ])("cost %p ms -> every %p ms", (cost, interval) => {
    expect(checkpointIntervalMs(cost, DEFAULT)).toBe(interval);
  });
});

describe("CheckpointPacer", () => {
  test("cheap checkpoints are due every 100 ms from the start of the last", () => {
    const pacer = new CheckpointPacer(DEFAULT, 0);
    pacer.finish(2);
    expect(pacer.due(99)).toBe(false);
    expect(pacer.due(100)).toBe(true);
    pacer.start(100);
    pacer.finish(104);
    expect(pacer.due(199)).toBe(false);
    expect(pacer.due(200)).toBe(true);
  });

  test("a slow checkpoint spaces the next ones out at once; fast ones bring them back gradually", () => {
    const pacer = new CheckpointPacer(DEFAULT, 0);
    pacer.finish(60);
    expect(pacer.costMs).toBe(60);
    expect(pacer.due(599)).toBe(false);
    expect(pacer.due(600)).toBe(true);
    const intervals: number[] = [];
    let now = 600;
    for (let i = 0; i < 8; i++) {
      pacer.start(now);
      pacer.finish(now + 2);
      intervals.push(checkpointIntervalMs(pacer.costMs, DEFAULT));
      now += 1000;
    }
    // Monotonically back down towards the 100 ms floor, never below it.
    for (let i = 1; i < intervals.length; i++)
      expect(intervals[i]).toBeLessThanOrEqual(intervals[i - 1] ?? 0);
    expect(intervals[0]).toBeGreaterThan(100);
    expect(intervals.at(-1)).toBeLessThan(110);
  });

  test("the share of time in checkpoints stays at or under a tenth whatever they cost, below the ceiling", () => {
    for (const cost of [1, 10, 30, 60, 90]) {
      const pacer = new CheckpointPacer(DEFAULT, 0);
      let now = 0;
      let busy = 0;
      pacer.finish(cost);
      busy += cost;
      now = cost;
      while (now < 60_000) {
        now += 10; // the download's poll
        if (!pacer.due(now)) continue;
        pacer.start(now);
        now += cost;
        pacer.finish(now);
        busy += cost;
      }
      // The last checkpoint has not yet had its quiet time after it.
      expect((busy - cost) / now).toBeLessThanOrEqual(0.1);
      expect(busy / now).toBeGreaterThan(cost <= 25 ? 0 : 0.08);
    }
  });
});
