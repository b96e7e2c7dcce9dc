// The end game splits a victim by the rate its current request gets, not by what its worker's meter still
// shows of the connection it had before. Bun's pool may put a worker's next request on a new connection (a
// cut answer closes its connection), and on the bench's uneven link every 4th new connection is 8x slower;
// the meter samples over four first-byte times (600 ms when first bytes take 150 ms under load), so a worker
// that moved from a fast connection to a slow one was split as if it were fast: it kept 1.29 MB at 2 MiB/s
// and ended the download 0.4 s after everyone else. Driven step by step on virtual time, as DownloadRun would.
import { describe, expect, test } from "bun:test";
import { Scheduler, TICK_MS, type Work } from "../src/engine/scheduler.ts";
import { lengthOf, remainingOf } from "../src/engine/segment.ts";

const MiB = 1 << 20;
const STEP_MS = 10;
const TTFB_MS = 150;
const FAST = 12 * MiB;
const SLOW = 1.5 * MiB;

describe("end game: a victim whose request went to a slower connection", () => {
  test("is split by its request's own rate: it keeps what it fetches while the thief fetches the rest", () => {
    const s = new Scheduler(
      [{ id: 0, start: 0, end: 12 * MiB - 1, done: 0 }],
      { mode: "range", connections: 2, minSplitBytes: MiB, stallTimeoutMs: 30_000 },
      0,
    );
    interface Busy {
      work: Work;
      answerAt: number;
      rate: number;
    }
    const busy = new Map<number, Busy>();
    const requests = [0, 0];
    const start = (w: number, now: number): Work | undefined => {
      const work = s.next(w, now);
      if (work === undefined) return undefined;
      requests[w] = (requests[w] ?? 0) + 1;
      // Worker 0's second request lands on a new, slow connection; everything else is fast.
      busy.set(w, { work, answerAt: now + TTFB_MS, rate: w === 0 && requests[w] === 2 ? SLOW : FAST });
      return work;
    };
    start(0, 0);
    start(1, 0);
    let steal: Work | undefined;
    let thiefRate = 0;
    for (let now = STEP_MS; now <= 10_000 && steal === undefined; now += STEP_MS) {
      for (const [w, b] of [...busy]) {
        if (now < b.answerAt) continue;
        if (now - STEP_MS < b.answerAt) s.firstByte(w, TTFB_MS, b.answerAt);
        const seg = b.work.segment;
        seg.done = Math.min(lengthOf(seg), seg.done + Math.round((b.rate * STEP_MS) / 1000));
        if (remainingOf(seg) > 0) continue;
        busy.delete(w);
        s.finished(w, now);
        const next = start(w, now);
        if (next?.kind === "stolen" && next.victim !== undefined) [steal, thiefRate] = [next, s.rateOf(w)];
      }
      if (now % TICK_MS === 0) {
        s.tick(now, (w) => (busy.has(w) ? { lastByteAt: now, waiting: false } : undefined));
        for (const w of [0, 1])
          if (!busy.has(w) && steal === undefined) {
            const next = start(w, now);
            if (next?.kind === "stolen") [steal, thiefRate] = [next, s.rateOf(w)];
          }
      }
    }
    expect(steal).toBeDefined();
    if (steal?.victim === undefined) return;
    // The victim is worker 0 on its slow connection; what it keeps takes it no longer (with a round trip to
    // spare) than the thief needs for the stolen part at the rate the scheduler knows it by: both end
    // together. (Split as if the victim still had its fast connection, it kept twice that.)
    expect(thiefRate).toBeGreaterThan(SLOW * 2);
    const kept = remainingOf(steal.victim);
    const thiefSeconds = TTFB_MS / 1000 + lengthOf(steal.segment) / thiefRate;
    expect(kept / SLOW).toBeLessThanOrEqual(thiefSeconds + TTFB_MS / 1000);
  });
});
