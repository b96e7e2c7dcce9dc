// SourceTable learning a source's rate and its useful connections from noisy samples (pure: time passed in).
import { describe, expect, test } from "bun:test";
import { SourceTable } from "../src/engine/source-table.ts";

const MiB = 1 << 20;

/** Samples `source` every 100 ms from `from`: one tick with the count changed, then `totals` split evenly. */
function feed(t: SourceTable, source: number, n: number, totals: readonly number[], from: number): number {
  let now = from;
  t.sample(source, n, [], now);
  now += 300;
  for (const total of totals) {
    t.sample(
      source,
      n,
      Array.from({ length: n }, () => total / n),
      now,
    );
    now += 100;
  }
  return now;
}

describe("SourceTable", () => {
  test("a burst at one connection too many does not hide a total cap", () => {
    const t = new SourceTable([{ id: 0 }]);
    // 4 connections carry the cap (48 MiB/s) after a first sample that straddles their start; with a fifth,
    // one sample catches up after a pause (60), the next is the cap again: the fifth added nothing.
    const now = feed(t, 0, 4, [40 * MiB, 48 * MiB, 48 * MiB], 0);
    feed(t, 0, 5, [47 * MiB, 60 * MiB, 47 * MiB], now);
    expect(t.stats(() => 5)[0]?.usefulConnections).toBe(4);
  });

  test("a source whose connections are not all measured yet still gets a rate", () => {
    const t = new SourceTable([{ id: 0 }, { id: 1 }]);
    t.sample(1, 4, [], 0);
    // Two of its four connections measured at 1.5 MiB/s, still so after a second: estimated at 6 MiB/s, no
    // longer "unmeasured" (which is tried first, and drew every worker onto an 8x slower mirror). Not at once:
    // all sources start together, and one measured a tick early would lose a worker to the others.
    t.sample(1, 4, [1.5 * MiB, 1.5 * MiB], 300);
    expect(t.stats(() => 4)[1]?.bytesPerSecond).toBeUndefined();
    t.sample(1, 4, [1.5 * MiB, 1.5 * MiB], 1100);
    expect(t.stats(() => 4)[1]?.bytesPerSecond).toBe(6 * MiB);
  });
});
