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
  /** Bytes the other workers' segments still need. */
  readonly inFlightBytes: number;
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

/** Smallest segment of the last round (see nextSegmentBytes). */
export const LAST_ROUND_MIN_BYTES = 256 << 10;

/**
 * Size of the next segment carved, in offset order, off the unassigned part of the file (pure).
 * Segments are fetched in file order so the contiguous prefix, which is hashed on arrival, grows at nearly
 * the full download rate; at most `connections` segments are in flight, so that is how far hashing lags.
 * A segment is about 1/8 of a connection's share (small lag, even finish), but at least 20 round trips'
 * worth of transfer at the measured rate, so a new request's first-byte wait costs under ~5%, yet no more
 * than this connection's even part of all the work left (unassigned and in flight), so that the last
 * round ends together instead of leaving connections idle.
 * Before anything is measured: up to half a connection's share (a short file is not cut into many
 * requests whose round trips nobody has measured yet), at most FIRST_SEGMENT_BYTES.
 */
export function nextSegmentBytes(input: SegmentSizing): number {
  const connections = Math.max(1, input.connections);
  const share = Math.ceil(input.unassignedBytes / (connections * 8));
  const evenPart = Math.ceil((input.unassignedBytes + input.inFlightBytes) / connections);
  const measured = input.perConnectionRate !== undefined;
  const floor =
    measured && input.timeToFirstByteMs !== undefined
      ? Math.min((input.perConnectionRate ?? 0) * ((input.timeToFirstByteMs * 20) / 1000), evenPart)
      : measured
        ? 0
        : Math.ceil(evenPart / 2);
  const cap = measured ? MAX_SEGMENT_BYTES : FIRST_SEGMENT_BYTES;
  // In the last round, when even parts of what is left are smaller than the minimum segment, they are what
  // each connection gets (down to LAST_ROUND_MIN_BYTES): a few whole minimum segments would leave most
  // connections idle while they finish.
  const minimum = Math.min(input.minSegmentBytes, Math.max(evenPart, LAST_ROUND_MIN_BYTES));
  const size = Math.min(Math.round(Math.max(share, floor, minimum, 1)), Math.max(cap, minimum));
  // Round so that what is left divides into whole segments of about this size: a remainder smaller than a
  // segment would be one worker's odd extra at the very end; but one segment more when that would make
  // this one larger than an even part (and the rest allows it).
  let count = Math.max(1, Math.floor(input.unassignedBytes / size));
  if (input.unassignedBytes / count > evenPart && input.unassignedBytes / (count + 1) >= minimum) count++;
  return Math.min(Math.ceil(input.unassignedBytes / count), input.unassignedBytes);
}
