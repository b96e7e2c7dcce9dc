import type { Segment } from "../segment.ts";

/** How a download keeps its bytes until they are complete. Recorded in state.json. */
export type StorageKind = "parts" | "in-place";

/** Appends the bytes of one segment, in order, starting at `segment.start + segment.done`. */
export interface SegmentWriter {
  /**
   * Writes the next bytes of the segment. A returned promise is back-pressure: the caller awaits it
   * before reading more from the network, so memory does not grow with link speed.
   */
  write(chunk: Uint8Array): Promise<void> | undefined;
  /** Bytes of this segment (from `start`) that reached the OS and can be read back. */
  readonly readableBytes: number;
  /** Hands buffered bytes to the OS (not fsync). */
  flush(): Promise<void>;
  /** Flushes and releases the file; the writer is unusable afterwards. */
  close(): Promise<void>;
}

/**
 * Storage of an unfinished download inside its sidecar directory. Two implementations pass one shared test
 * suite: `parts` (one append-only file per segment, assembled at the end) and `in-place` (one preallocated
 * file written at offsets, no assembly copy).
 */
export interface Sink {
  readonly kind: StorageKind;
  /**
   * Creates or reopens the storage for these segments. On resume each segment's `done` is cut back to what
   * is really on disk (never trusting more than the state file vouches for).
   */
  open(segments: readonly Segment[], outputBytes: number | undefined): Promise<void>;
  /** A writer positioned at the segment's next byte. One open writer per segment at a time. */
  writer(segment: Segment): Promise<SegmentWriter>;
  /** Makes every byte handed to any writer before this call durable (flush + fsync). */
  sync(): Promise<void>;
  /**
   * Starts the disk on bytes written so far (fdatasync) so the final sync finds little left. Promises nothing
   * a checkpoint may rely on; may do nothing where the checkpoints' syncs already keep the disk busy.
   */
  writeback(): Promise<void>;
  /** Where output byte `offset` of `segment` lives: the file and the position in it (for read-back). */
  locate(segment: Segment, offset: number): { readonly path: string; readonly position: number };
  /**
   * Makes the complete, fsynced file inside the sidecar (assembling parts in offset order if needed) and
   * returns its path; the caller verifies it and moves it onto the final name. Releases open files.
   */
  complete(segments: readonly Segment[]): Promise<string>;
  /** Releases open files without completing (pause, failure). Idempotent. */
  close(): Promise<void>;
  /** Size in bytes of what storage holds for the segment, for checks before commit. */
  storedBytes(segment: Segment): Promise<number>;
}
