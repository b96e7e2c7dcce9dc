import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { FILE_FLOOR_SHARE, FIRST_SEGMENT_BYTES, nextSegmentBytes, planSegments } from "../src/engine/plan.ts";
import { Scheduler } from "../src/engine/scheduler.ts";
import { lengthOf, nextOffsetOf, remainingOf, type Segment } from "../src/engine/segment.ts";
import { planEvenSplit } from "../src/engine/steal.ts";

const offset = fc.integer({ min: 0, max: 2 ** 40 });
const length = fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 2 ** 36 }));
const connections = fc.integer({ min: 1, max: 64 });
const minBytes = fc.oneof(
  fc.constant(1),
  fc.integer({ min: 0, max: 4096 }),
  fc.integer({ min: 1, max: 2 ** 24 }),
);

describe("planSegments", () => {
  test("segments tile [first, last] exactly, in order, without overlap", () => {
    fc.assert(
      fc.property(offset, length, connections, minBytes, (first, len, n, min) => {
        const last = first + len - 1;
        const segments = planSegments(first, last, n, min);
        expect(segments[0]?.start).toBe(first);
        expect(segments.at(-1)?.end).toBe(last);
        for (const [i, s] of segments.entries()) {
          expect(s).toEqual({ id: i, start: s.start, end: s.end, done: 0 });
          expect(s.end).toBeGreaterThanOrEqual(s.start);
          if (i > 0) expect(s.start).toBe((segments[i - 1]?.end ?? Number.NaN) + 1);
        }
        expect(segments.reduce((sum, s) => sum + lengthOf(s), 0)).toBe(len);
      }),
    );
  });

  test("sizes differ by at most one byte; count is as many as connections and the minimum allow", () => {
    fc.assert(
      fc.property(offset, length, connections, minBytes, (first, len, n, min) => {
        const segments = planSegments(first, first + len - 1, n, min);
        const sizes = segments.map(lengthOf);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        expect(segments.length).toBe(Math.min(n, Math.max(1, Math.floor(len / Math.max(1, min)))));
        // Only a lone segment may be smaller than the minimum.
        if (segments.length > 1) expect(Math.min(...sizes)).toBeGreaterThanOrEqual(min);
      }),
    );
  });

  test("an empty range gives no segments; one byte gives one", () => {
    expect(planSegments(10, 9, 8, 1)).toEqual([]);
    expect(planSegments(0, -1, 8, 1)).toEqual([]);
    expect(planSegments(5, 5, 8, 1)).toEqual([{ id: 0, start: 5, end: 5, done: 0 }]);
  });

  test("a worked example: 10 bytes over 3 connections", () => {
    expect(planSegments(0, 9, 3, 1).map((s) => [s.start, s.end])).toEqual([
      [0, 3],
      [4, 6],
      [7, 9],
    ]);
  });
});

/** Arbitrary segments being fetched: disjoint ranges laid out one after another, each partly done. */
const activeSegments = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 2 ** 30 }), fc.double({ min: 0, max: 1, noNaN: true })), {
    maxLength: 20,
  })
  .map((specs) => {
    let start = 0;
    return specs.map(([len, fraction], id): Segment => {
      const segment = { id, start, end: start + len - 1, done: Math.floor(len * fraction) };
      start += len;
      return segment;
    });
  });

describe("planEvenSplit", () => {
  const victim = (): Segment => ({ id: 0, start: 0, end: 999, done: 100 });
  const split = (over: Partial<Parameters<typeof planEvenSplit>[0]>) =>
    planEvenSplit({
      victim: victim(),
      victimBytesPerSecond: 100,
      thiefBytesPerSecond: 100,
      thiefStartSeconds: 0,
      inFlightBytes: 0,
      minStealBytes: 1,
      ...over,
    })?.splitAt;

  test.each([
    ["equal rates, thief starts at once: halves of the 900 left", {}, 550],
    [
      "equal rates, the thief's round trip: the victim keeps what it fetches meanwhile",
      { thiefStartSeconds: 1 },
      600,
    ],
    ["a victim 8x slower keeps a ninth", { victimBytesPerSecond: 12.5 }, 200],
    ["unmeasured rates: halves", { victimBytesPerSecond: undefined }, 550],
    ["the victim keeps its in-flight bytes", { victimBytesPerSecond: 50, inFlightBytes: 300 }, 400],
    [
      "... unless it is so slow that the thief fetches all of it sooner: all goes (in-flight bytes dropped)",
      { victimBytesPerSecond: 12.5, inFlightBytes: 300, mayTakeAll: true },
      100,
    ],
    ["a victim that moves nothing gives all of it", { victimBytesPerSecond: 0 }, 100],
    ["no steal when the thief gets under the minimum", { minStealBytes: 451 }, undefined],
    ["no steal when the thief would not finish sooner", { thiefStartSeconds: 10 }, undefined],
  ] as const)("%s", (_name, over, splitAt) => {
    expect(split(over)).toBe(splitAt);
  });

  test("both parts tile the victim's remainder and never overlap what it has", () => {
    fc.assert(
      fc.property(
        activeSegments,
        fc.double({ min: 0, max: 1e9, noNaN: true }),
        fc.double({ min: 1, max: 1e9, noNaN: true }),
        fc.double({ min: 0, max: 5, noNaN: true }),
        fc.integer({ min: 0, max: 2 ** 20 }),
        (segments, rv, rt, start, inFlight) => {
          for (const s of segments) {
            const plan = planEvenSplit({
              victim: s,
              victimBytesPerSecond: rv,
              thiefBytesPerSecond: rt,
              thiefStartSeconds: start,
              inFlightBytes: inFlight,
              minStealBytes: 1,
              mayTakeAll: true,
            });
            if (plan === undefined) continue;
            // The victim keeps its in-flight bytes, or (4x slower or more, and slower at them than the thief
            // at all of it) nothing.
            const takesAll = rv * 4 <= rt && plan.splitAt === nextOffsetOf(s);
            if (!takesAll)
              expect(plan.splitAt).toBeGreaterThanOrEqual(
                nextOffsetOf(s) + Math.min(inFlight, remainingOf(s)),
              );
            expect(plan.splitAt).toBeLessThanOrEqual(s.end);
            expect(Number.isInteger(plan.splitAt)).toBe(true);
          }
        },
      ),
    );
  });
});

describe("segments of a big file: the first half in big ones (FILE_FLOOR_SHARE)", () => {
  const MiB = 1 << 20;
  const carveAll = (size: number, connections: number, minSplitExplicit: boolean): number[] => {
    const s = new Scheduler(
      [{ id: 0, start: 0, end: size - 1, done: 0 }],
      { mode: "range", connections, minSplitBytes: MiB, minSplitExplicit, stallTimeoutMs: 30_000 },
      0,
    );
    return Array.from({ length: connections }, (_, w) =>
      lengthOf(s.next(w, 0)?.segment ?? { start: 0, end: -1, done: 0, id: 0 }),
    );
  };

  test("1 GiB over 16 connections: the blind round is 16 segments of 32 MiB, half the file", () => {
    const sizes = carveAll(1024 * MiB, 16, false);
    expect(sizes).toEqual(Array.from({ length: 16 }, () => (1024 * MiB) / (FILE_FLOOR_SHARE * 16)));
  });

  test("after half the file is handed out, segments are sized as before (the tail stays small)", () => {
    const half = nextSegmentBytes({
      unassignedBytes: 512 * MiB,
      inFlightBytes: 480 * MiB,
      connections: 16,
      minSegmentBytes: MiB,
      perConnectionRate: 30 * MiB,
      timeToFirstByteMs: 2,
      fileBytes: 1024 * MiB,
    });
    expect(half).toBeLessThan(8 * MiB);
  });

  test("a user's --min-split holds alone: the blind round stays at FIRST_SEGMENT_BYTES", () => {
    expect(carveAll(1024 * MiB, 16, true)).toEqual(Array.from({ length: 16 }, () => FIRST_SEGMENT_BYTES));
  });

  test("16 MiB over 16 connections still gives every connection a segment", () => {
    const sizes = carveAll(16 * MiB, 16, false);
    expect(sizes.filter((n) => n > 0).length).toBe(16);
  });
});
