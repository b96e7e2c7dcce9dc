import { expect } from "bun:test";
import { lengthOf, type Segment } from "../../src/engine/segment.ts";

/**
 * Asserts that the non-empty `segments` tile [0, size) with no gap or overlap and that each is done; returns
 * them sorted by start (for the caller's further checks).
 */
export function expectTiling(segments: readonly Segment[], size: number): Segment[] {
  const sorted = [...segments].filter((s) => lengthOf(s) > 0).sort((a, b) => a.start - b.start);
  let next = 0;
  for (const s of sorted) {
    expect(s.start).toBe(next);
    expect(s.done).toBe(lengthOf(s));
    next = s.end + 1;
  }
  expect(next).toBe(size);
  return sorted;
}
