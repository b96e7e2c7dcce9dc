import type { Segment } from "./segment.ts";

/**
 * Splits the inclusive byte range [first, last] into at most `connections` segments of near-equal size
 * (sizes differ by at most one byte), never smaller than `minSegmentBytes` except for the only segment.
 * An empty range (last < first) gives no segments.
 */
export function planSegments(
  first: number,
  last: number,
  connections: number,
  minSegmentBytes: number,
): Segment[] {
  const length = last - first + 1;
  if (length <= 0) return [];
  const count = Math.max(1, Math.min(connections, Math.floor(length / Math.max(1, minSegmentBytes)) || 1));
  const base = Math.floor(length / count);
  const extra = length % count;
  const segments: Segment[] = [];
  let start = first;
  for (let id = 0; id < count; id++) {
    const size = base + (id < extra ? 1 : 0);
    segments.push({ id, start, end: start + size - 1, done: 0 });
    start += size;
  }
  return segments;
}
