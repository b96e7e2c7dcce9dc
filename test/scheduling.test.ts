import { describe, expect, test } from "bun:test";
import {
  FIRST_SEGMENT_BYTES,
  LAST_ROUND_MIN_BYTES,
  MAX_SEGMENT_BYTES,
  nextSegmentBytes,
} from "../src/engine/plan.ts";
import { Scheduler } from "../src/engine/scheduler.ts";
import { DEFAULT_SLOW_POLICY, medianRate, slowConnections } from "../src/engine/slow-connection.ts";

const MiB = 1 << 20;

describe("nextSegmentBytes", () => {
  const base = {
    inFlightBytes: 0,
    connections: 8,
    minSegmentBytes: MiB,
    perConnectionRate: undefined,
    timeToFirstByteMs: undefined,
  };
  test.each([
    [
      "nothing measured yet: a small blind segment",
      { ...base, unassignedBytes: 1024 * MiB },
      FIRST_SEGMENT_BYTES,
    ],
    [
      "1 GiB over 8, measured, fast first bytes: an eighth of a connection's share",
      { ...base, unassignedBytes: 1024 * MiB, perConnectionRate: 100 * MiB, timeToFirstByteMs: 1 },
      16 * MiB,
    ],
    [
      "never below the minimum segment while the last round is still far",
      { ...base, unassignedBytes: 20 * MiB, perConnectionRate: 10 * MiB, timeToFirstByteMs: 1 },
      MiB,
    ],
    [
      "the last round: even parts of what is left, under the minimum",
      {
        ...base,
        unassignedBytes: 4 * MiB,
        inFlightBytes: 0,
        perConnectionRate: 10 * MiB,
        timeToFirstByteMs: 1,
      },
      MiB / 2,
    ],
    [
      "... but never under LAST_ROUND_MIN_BYTES",
      { ...base, unassignedBytes: MiB, perConnectionRate: 10 * MiB, timeToFirstByteMs: 1 },
      LAST_ROUND_MIN_BYTES,
    ],
    ["never more than what is left", { ...base, unassignedBytes: 300_000 }, 300_000],
    [
      "blind, a short file: half an even part (64 MiB over 8: 4 MiB), not an eighth of a share",
      { ...base, unassignedBytes: 64 * MiB },
      4 * MiB,
    ],
    [
      "capped for huge files",
      { ...base, unassignedBytes: 1024 * 1024 * MiB, perConnectionRate: 100 * MiB, timeToFirstByteMs: 1 },
      MAX_SEGMENT_BYTES,
    ],
    [
      "slow first bytes make segments longer (20 round trips of transfer)",
      { ...base, unassignedBytes: 640 * MiB, perConnectionRate: 10 * MiB, timeToFirstByteMs: 100 },
      20 * MiB,
    ],
    [
      "... yet no longer than an even part of all the work left, in flight included",
      {
        ...base,
        unassignedBytes: 48 * MiB,
        inFlightBytes: 16 * MiB,
        perConnectionRate: 10 * MiB,
        timeToFirstByteMs: 100,
      },
      8 * MiB,
    ],
    [
      "a remainder that would be a small odd segment is spread over the others",
      { ...base, unassignedBytes: 10 * MiB + 1, perConnectionRate: 10 * MiB, timeToFirstByteMs: 1 },
      Math.ceil((10 * MiB + 1) / 10),
    ],
  ])("%s", (_name, input, expected) => {
    expect(nextSegmentBytes(input)).toBe(expected);
  });

  test("segments shrink as the file runs out, so connections finish together", () => {
    let left = 1024 * MiB;
    const sizes: number[] = [];
    while (left > 0) {
      const size = nextSegmentBytes({ ...base, unassignedBytes: left });
      sizes.push(size);
      left -= size;
    }
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(1024 * MiB);
    expect(sizes.at(-1)).toBeLessThanOrEqual(sizes[0]!);
    for (let i = 1; i < sizes.length; i++) expect(sizes[i]).toBeLessThanOrEqual(sizes[i - 1]!);
  });
});

describe("slowConnections", () => {
  const rate = (worker: number, bytesPerSecond: number, slowForMs = 0, remainingBytes = 10 * MiB) => ({
    worker,
    bytesPerSecond,
    slowForMs,
    remainingBytes,
  });
  test.each([
    ["none slow", [rate(0, 100), rate(1, 100), rate(2, 90), rate(3, 110)], []],
    ["one far slower for long enough", [rate(0, 100), rate(1, 100), rate(2, 10, 5_000), rate(3, 100)], [2]],
    [
      "slow but almost done: stealing handles it",
      [rate(0, 100), rate(1, 100), rate(2, 10, 5_000, 1000), rate(3, 100)],
      [],
    ],
    ["a third slower is not far slower", [rate(0, 100), rate(1, 100), rate(2, 60, 9_000), rate(3, 100)], []],
    ["too few peers for a median", [rate(0, 100), rate(1, 1, 9_000)], []],
    ["all equally slow: nothing to gain", [rate(0, 1, 9_000), rate(1, 1, 9_000), rate(2, 1, 9_000)], []],
  ])("%s", (_name, rates, expected) => {
    expect(slowConnections(rates, DEFAULT_SLOW_POLICY)).toEqual(expected);
  });

  test("with a grace period, a connection is restarted only once slow for that long", () => {
    const policy = { ...DEFAULT_SLOW_POLICY, graceMs: 1_000 };
    const rates = (slowForMs: number) => [rate(0, 100), rate(1, 100), rate(2, 10, slowForMs), rate(3, 100)];
    expect(slowConnections(rates(900), policy)).toEqual([]);
    expect(slowConnections(rates(1_000), policy)).toEqual([2]);
  });

  test("median of odd and even counts", () => {
    expect(medianRate([rate(0, 1), rate(1, 5), rate(2, 3)])).toBe(3);
    expect(medianRate([rate(0, 1), rate(1, 5), rate(2, 3), rate(3, 7)])).toBe(4);
    expect(medianRate([])).toBe(0);
  });
});

describe("Scheduler with sources", () => {
  const make = (sources: { id: number; maxConnections?: number }[]) =>
    new Scheduler(
      [{ id: 0, start: 0, end: 64 * MiB - 1, done: 0 }],
      { mode: "range", connections: 6, minSplitBytes: MiB, stallTimeoutMs: 30_000, sources },
      0,
    );

  test("connections spread evenly over unmeasured sources, within a source's known cap", () => {
    const s = make([{ id: 0 }, { id: 1, maxConnections: 1 }, { id: 2 }]);
    const sources = [0, 1, 2, 3, 4, 5].map((w) => s.next(w, 0)?.source);
    expect(sources.filter((x) => x === 1).length).toBe(1);
    expect(sources.filter((x) => x === 0).length).toBe(3);
    expect(sources.filter((x) => x === 2).length).toBe(2);
  });

  test("Retry-After holds back its own source only; the worker leaves it and its segment goes back", () => {
    const s = make([{ id: 0 }, { id: 1 }]);
    const a = s.next(0, 0);
    const b = s.next(1, 0);
    expect([a?.source, b?.source]).toEqual([0, 1]);
    const verdict = s.failed(1, { kind: "error", reason: "HTTP 503", retryAfterMs: 5000 }, 10);
    expect(verdict.leave).toBe(true);
    s.finished(1);
    const again = s.next(1, 20);
    expect(again?.source).toBe(0);
    // The given-back segment is handed out again before anything new is carved.
    expect(again?.segment).toBe(b?.segment);
    expect(s.sourceStats()[1]?.errors).toBe(1);
  });

  test("a 503 while others on the source work sets its cap, not an error", () => {
    const s = make([{ id: 0 }, { id: 1 }]);
    for (const w of [0, 1, 2, 3]) s.next(w, 0);
    s.firstByte(1, 5);
    const verdict = s.failed(3, { kind: "limit", reason: "HTTP 503" }, 10);
    expect(verdict.event).toEqual({
      source: 1,
      what: "limited",
      value: 1,
      reason: "refused one connection more",
    });
    expect(s.sourceStats()[1]?.errors).toBe(0);
    expect(s.sourceStats()[1]?.maxConnections).toBe(1);
  });

  test("errors in a row demote a source, then drop it (one event each); the last source is never dropped", () => {
    const s = make([{ id: 0 }, { id: 1 }]);
    s.next(0, 0);
    s.next(1, 0);
    const events = [];
    for (let i = 0; i < 8; i++) {
      const e = s.failed(1, { kind: "error", reason: "reset" }, i).event;
      if (e !== undefined) events.push(e.what);
    }
    expect(events).toEqual(["demoted", "dropped"]);
    for (let i = 0; i < 8; i++)
      expect(s.failed(0, { kind: "error", reason: "reset" }, i).event?.what).not.toBe("dropped");
    // The last usable source is neither demoted nor dropped: the worker's own retries decide.
    expect(s.sourceStats().map((x) => x.state)).toEqual(["active", "dropped"]);
  });
});
