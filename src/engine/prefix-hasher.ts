import type { IncrementalHasher } from "./checksum.ts";
import type { Segment } from "./segment.ts";
import type { Sink } from "./storage/sink.ts";

/**
 * Hash on arrival: feeds every hasher the contiguous prefix of the output that is already readable, while
 * later bytes still arrive, so the check after the last byte covers only the tail. Reads back from storage
 * (page cache), which keeps workers free of hashing work.
 */
export class PrefixHasher {
  readonly #hashers: readonly IncrementalHasher[];
  readonly #sink: Sink;
  readonly #segments: () => readonly Segment[];
  readonly #readable: (segment: Segment) => number;
  readonly #first: number;
  #hashedUpTo: number;
  #running: Promise<void> | undefined;

  /**
   * @param first output offset of the first byte (0, or the start of a --range slice).
   * @param readable bytes of a segment (from its start) that can be read back from storage now.
   */
  constructor(
    hashers: readonly IncrementalHasher[],
    sink: Sink,
    segments: () => readonly Segment[],
    readable: (segment: Segment) => number,
    first: number,
  ) {
    this.#hashers = hashers;
    this.#sink = sink;
    this.#segments = segments;
    this.#readable = readable;
    this.#first = first;
    this.#hashedUpTo = first;
  }

  /** Bytes hashed so far. */
  get hashedBytes(): number {
    return this.#hashedUpTo - this.#first;
  }

  /** Hashes whatever became readable; concurrent calls share one pass. */
  pump(): Promise<void> {
    this.#running ??= this.#pass().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Waits for any pass in flight, then hashes everything readable; call after the last byte is stored. */
  async drain(): Promise<void> {
    if (this.#running !== undefined) await this.#running;
    await this.pump();
  }

  async #pass(): Promise<void> {
    for (;;) {
      const segment = this.#segments().find((s) => s.start <= this.#hashedUpTo && this.#hashedUpTo <= s.end);
      if (segment === undefined) return;
      const readableEnd = segment.start + this.#readable(segment) - 1;
      if (readableEnd < this.#hashedUpTo) return;
      for await (const chunk of this.#sink.read(segment, this.#hashedUpTo, readableEnd)) {
        for (const hasher of this.#hashers) hasher.update(chunk);
        this.#hashedUpTo += chunk.length;
      }
      if (this.#hashedUpTo <= readableEnd) {
        throw new Error(`storage returned fewer bytes than readable at offset ${this.#hashedUpTo}`);
      }
    }
  }
}
