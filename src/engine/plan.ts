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
  /**
   * Bytes this run fetches in all (see FILE_FLOOR_SHARE); undefined when the user chose the minimum segment
   * (`--min-split`), which then holds alone.
   */
  readonly fileBytes?: number | undefined;
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
 * Until half the file is handed out, no segment is smaller than the file over this many times the
 * connections (unless the user set `--min-split`): at 1 GiB over 16 connections the first half goes in 16
 * requests of 32 MiB instead of ~45 of 4-12 MiB. Each request's response costs the download thread memory
 * (Bun's buffers, chunks not yet collected): RSS sampled every 100 ms stayed at 100-110 MiB over the big
 * first-half requests and climbed to 120-136 over the small ones that follow (bench/README.md, Memory).
 * Half, not all: the tail stays in today's shrinking segments, so the hash frontier keeps up and the last
 * byte is verified as soon (a big segment carved late holds the frontier to the end: +0.45 s in the
 * simulator at 1 GiB). A file up to 16 MiB per connection gets no more than the 4 MiB blind round gives.
 */
export const FILE_FLOOR_SHARE = 2;

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
 * In the first half of a big file: at least the file over FILE_FLOOR_SHARE × connections (see there).
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
  // Carved only while, after it, at least half the file is still unassigned (see FILE_FLOOR_SHARE).
  const fileFloor =
    input.fileBytes === undefined
      ? 0
      : Math.min(Math.ceil(input.fileBytes / (FILE_FLOOR_SHARE * connections)), MAX_SEGMENT_BYTES, evenPart);
  const bigFirst =
    fileFloor > 0 && input.unassignedBytes - fileFloor >= (input.fileBytes ?? 0) / 2 - 1 ? fileFloor : 0;
  const cap = Math.max(measured ? MAX_SEGMENT_BYTES : FIRST_SEGMENT_BYTES, bigFirst);
  // In the last round, when even parts of what is left are smaller than the minimum segment, they are what
  // each connection gets (down to LAST_ROUND_MIN_BYTES): a few whole minimum segments would leave most
  // connections idle while they finish.
  const minimum = Math.min(input.minSegmentBytes, Math.max(evenPart, LAST_ROUND_MIN_BYTES));
  const size = Math.min(Math.round(Math.max(share, floor, minimum, bigFirst, 1)), Math.max(cap, minimum));
  // Round so that what is left divides into whole segments of about this size: a remainder smaller than a
  // segment would be one worker's odd extra at the very end; but one segment more when that would make
  // this one larger than an even part (and the rest allows it).
  let count = Math.max(1, Math.floor(input.unassignedBytes / size));
  if (input.unassignedBytes / count > evenPart && input.unassignedBytes / (count + 1) >= minimum) count++;
  return Math.min(Math.ceil(input.unassignedBytes / count), input.unassignedBytes);
}
