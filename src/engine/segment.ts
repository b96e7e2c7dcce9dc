/**
 * One byte range of the output and how much of it is on disk. `start` and `end` are inclusive offsets
 * (as in HTTP Range). `done` counts bytes from `start` already handed to storage. `end` may shrink while a
 * worker runs when another worker steals the tail (work stealing); the owner stops at the new end.
 */
export interface Segment {
  readonly id: number;
  start: number;
  end: number;
  done: number;
}

/** Bytes of `segment` still missing. */
export function remainingOf(segment: Segment): number {
  return Math.max(0, segment.end - segment.start + 1 - segment.done);
}

/** Offset of the next byte the segment needs. */
export function nextOffsetOf(segment: Segment): number {
  return segment.start + segment.done;
}

/** True when every byte of the segment is on disk. */
export function isComplete(segment: Segment): boolean {
  return remainingOf(segment) === 0;
}

/** Length in bytes of the inclusive range. */
export function lengthOf(segment: Pick<Segment, "start" | "end">): number {
  return segment.end - segment.start + 1;
}
