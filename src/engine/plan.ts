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

/** What the segment sizer knows when a worker asks for more work. */
export interface SegmentSizing {
  /** Bytes not yet handed to any worker. */
  readonly unassignedBytes: number;
  readonly connections: number;
  /** Smallest segment worth a request (bytes). */
  readonly minSegmentBytes: number;
  /** Recent bytes/s of one connection, if measured. */
  readonly perConnectionRate: number | undefined;
  /** Recent time to first byte of a request (ms), if measured. */
  readonly timeToFirstByteMs: number | undefined;
}

/** Segments never exceed this, so the hash-on-arrival frontier stays close to the newest bytes. */
export const MAX_SEGMENT_BYTES = 64 << 20;

/**
 * Largest segment before any connection was measured. The first segments go out blind: one of them may land on
 * a connection that turns out slow (or, on loopback, whose TCP window never opens), and until it finishes
 * it holds the hash frontier, so the blind round is kept small.
 */
export const FIRST_SEGMENT_BYTES = 4 << 20;

/**
 * Size of the next segment carved, in offset order, off the unassigned part of the file (pure).
 * Segments are fetched in file order so the contiguous prefix, which is hashed on arrival, grows at nearly
 * the full download rate; at most `connections` segments are in flight, so that is how far hashing lags.
 * A segment is about 1/8 of a connection's share (small lag, even finish), but at least 20 round trips'
 * worth of transfer at the measured rate, so a new request's first-byte wait costs under ~5%; before
 * anything is measured, at most FIRST_SEGMENT_BYTES.
 */
export function nextSegmentBytes(input: SegmentSizing): number {
  const share = Math.ceil(input.unassignedBytes / (Math.max(1, input.connections) * 8));
  const latencyFloor =
    input.perConnectionRate !== undefined && input.timeToFirstByteMs !== undefined
      ? input.perConnectionRate * ((input.timeToFirstByteMs * 20) / 1000)
      : 0;
  const size = Math.max(share, latencyFloor, input.minSegmentBytes, 1);
  const cap = input.perConnectionRate === undefined ? FIRST_SEGMENT_BYTES : MAX_SEGMENT_BYTES;
  return Math.min(Math.round(size), Math.max(cap, input.minSegmentBytes), input.unassignedBytes);
}
