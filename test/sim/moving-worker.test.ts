// A worker that moves from a fast mirror to one eight times slower fetches at the slow one's rate: the part it
// is handed there is sized by that source's rate per connection, not by the rate it had where it came from
// (sized by the latter, the part outlasted everything else on the mirrors bench and ended the download ~1 s
// late). Driven tick by tick, without the link simulator, so that the move happens at a known moment.
import { describe, expect, test } from "bun:test";
import { Scheduler, type Work } from "../../src/engine/scheduler.ts";
import type { Segment } from "../../src/engine/segment.ts";

const MiB = 1 << 20;
const TICK = 100;

function lengthOf(s: Segment): number {
  return s.end - s.start + 1;
}

describe("a worker moving to a slower source", () => {
  test("gets a part sized by the slow source's rate, not by the one it had", () => {
    const s = new Scheduler(
      [{ id: 0, start: 0, end: 32 * MiB - 1, done: 0 }],
      {
        mode: "range",
        connections: 4,
        minSplitBytes: MiB,
        stallTimeoutMs: 30_000,
        sources: [{ id: 0 }, { id: 1 }],
      },
      0,
    );
    const rateOf = [12 * MiB, 1.5 * MiB] as const;
    const work = new Map<number, Work>();
    for (const w of [0, 1, 2, 3]) {
      const x = s.next(w, 0);
      if (x !== undefined) work.set(w, x);
    }
    expect([...work.values()].map((x) => x.source).sort()).toEqual([0, 0, 1, 1]);
    for (const w of work.keys()) s.firstByte(w, 2);
    // Two seconds at the sources' rates: both sources and every connection measured.
    let now = 0;
    for (let i = 0; i < 8; i++) {
      now += TICK;
      for (const [w, x] of work) {
        const segment = x.segment;
        segment.done = Math.min(lengthOf(segment), segment.done + (rateOf[x.source] ?? 0) * (TICK / 1000));
        if (segment.done < lengthOf(segment)) continue;
        s.finished(w, now);
        const again = s.next(w, now);
        if (again === undefined) work.delete(w);
        else {
          work.set(w, again);
          s.firstByte(w, 2);
        }
      }
      s.tick(now, () => ({ lastByteAt: now, waiting: false }));
    }
    // As one worker on source 0 ends its segment, source 0 refuses it one request more: it moves to the slow
    // source with nothing of its own to give back.
    const [mover, last] = [...work].find(([, x]) => x.source === 0) ?? [-1, undefined];
    if (last !== undefined) last.segment.done = lengthOf(last.segment);
    expect(s.rateOf(mover)).toBeGreaterThan(6 * MiB);
    const verdict = s.failed(mover, { kind: "limit", reason: "HTTP 503" }, now);
    expect(verdict.leave).toBe(true);
    s.finished(mover, now);
    const moved = s.next(mover, now);
    expect(moved?.source).toBe(1);
    // What it is handed there (a small segment of its own: a worker on a slow source robs nobody) ends about
    // when the work left does (the longest segment in flight, or all that is left at everyone's rates) at
    // source 1's rate (1.5 MiB/s), not at the ~10 MiB/s it had on source 0 (eight times as long).
    expect(moved).toBeDefined();
    if (moved === undefined) return;
    expect(moved.kind).not.toBe("slow");
    const thiefSeconds = lengthOf(moved.segment) / rateOf[1];
    const others = [...work].filter(([w]) => w !== mover);
    const inFlightSeconds = Math.max(
      ...others.map(([, x]) => (lengthOf(x.segment) - x.segment.done) / (rateOf[x.source] ?? 1)),
    );
    const left = s.segments.reduce((sum, x) => sum + lengthOf(x) - x.done, 0) - lengthOf(moved.segment);
    const rates = others.reduce((sum, [, x]) => sum + (rateOf[x.source] ?? 0), rateOf[1]);
    expect(thiefSeconds).toBeLessThanOrEqual(Math.max(inFlightSeconds, left / rates) * 1.5 + 0.05);
  });
});

describe("a connection's first measure", () => {
  test("starts at its first byte: a slow answer does not make its source look slower than it is", () => {
    const s = new Scheduler(
      [{ id: 0, start: 0, end: 64 * MiB - 1, done: 0 }],
      {
        mode: "range",
        connections: 2,
        minSplitBytes: MiB,
        stallTimeoutMs: 30_000,
        sources: [{ id: 0 }, { id: 1 }],
      },
      0,
    );
    const a = s.next(0, 0);
    const b = s.next(1, 0);
    expect([a?.source, b?.source].sort()).toEqual([0, 1]);
    // Both answered 250 ms after they asked (a loaded server), then 1.5 MiB/s each.
    const answeredAt = 250;
    s.firstByte(0, answeredAt, answeredAt);
    s.firstByte(1, answeredAt, answeredAt);
    // Samples span at least 4 round trips (1 s here).
    for (let now = TICK; now <= 1500; now += TICK) {
      for (const x of [a, b]) {
        if (x !== undefined && now > answeredAt) x.segment.done += 1.5 * MiB * (TICK / 1000);
      }
      s.tick(now, () => ({ lastByteAt: now, waiting: false }));
    }
    // Measured from 250 ms on: 1.5 MiB/s (from the request, its first sample read 1.2).
    for (const source of s.sourceStats()) {
      expect(source.bytesPerSecond ?? 0).toBeGreaterThan(1.4 * MiB);
      expect(source.bytesPerSecond ?? 0).toBeLessThan(1.6 * MiB);
    }
  });
});
